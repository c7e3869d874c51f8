//! Reading a request body field by field, collecting every broken rule with its JSON
//! path, so one answer lists them all (`1001-400`).

use serde_json::Value;

use super::error::ApiError;
use crate::bounds::{MAX_DESCRIPTION, MAX_NAME, too_long};
use crate::specs::Violation;

/// The violations found so far in one body.
pub struct Fields<'a> {
    body: &'a Value,
    violations: Vec<Violation>,
}

impl<'a> Fields<'a> {
    /// Starts reading `body`.
    pub fn new(body: &'a Value) -> Fields<'a> {
        Fields {
            body,
            violations: Vec::new(),
        }
    }

    /// A non-empty string at `path` (a JSON pointer); "" after recording a violation.
    pub fn required(&mut self, path: &str) -> String {
        match self.body.pointer(path) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => self.fail(path, "must not be empty"),
            None | Some(Value::Null) => self.fail(path, "is required"),
            Some(_) => self.fail(path, "must be a string"),
        }
    }

    /// A string at `path`, "" when absent.
    pub fn optional(&mut self, path: &str) -> String {
        match self.body.pointer(path) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => self.fail(path, "must be a string"),
        }
    }

    /// One of `allowed` (compared in any case) at `path`, `default` when absent; the
    /// answer is spelt as in `allowed`.
    pub fn one_of(&mut self, path: &str, allowed: &[&str], default: &str) -> String {
        let given = self.optional(path);
        if given.is_empty() {
            return default.to_string();
        }
        match allowed.iter().find(|a| a.eq_ignore_ascii_case(given.trim())) {
            Some(found) => found.to_string(),
            None => self.fail(path, &format!("must be one of {}", allowed.join(", "))),
        }
    }

    /// The list of exactly one string at `path`.
    pub fn single_id(&mut self, path: &str, what: &str) -> String {
        match self.body.pointer(path).and_then(Value::as_array).map(Vec::as_slice) {
            Some([Value::String(id)]) if !id.trim().is_empty() => id.clone(),
            _ => self.fail(path, &format!("must list exactly one {what} id")),
        }
    }

    /// The resource's `name` at `path`: required, at most [`MAX_NAME`] characters.
    pub fn name(&mut self, path: &str) -> String {
        let name = self.required(path);
        self.violations.extend(too_long(path, &name, MAX_NAME));
        name
    }

    /// Its `description` at `path`: optional, at most [`MAX_DESCRIPTION`] characters.
    pub fn description(&mut self, path: &str) -> String {
        let description = self.optional(path);
        self.violations.extend(too_long(path, &description, MAX_DESCRIPTION));
        description
    }

    /// Checks that each of `paths`, when present, holds an object (`connectionSpec`,
    /// `data`, `params`...): anything else would be dropped without a word.
    pub fn objects(&mut self, paths: &[&str]) {
        for path in paths {
            if self.body.pointer(path).is_some_and(|v| !v.is_null() && !v.is_object()) {
                self.push(path, "must be an object");
            }
        }
    }

    /// Records a violation.
    pub fn push(&mut self, path: &str, message: &str) {
        self.violations.push(Violation::new(path, message));
    }

    /// Records violations found elsewhere.
    pub fn extend(&mut self, violations: Vec<Violation>) {
        self.violations.extend(violations);
    }

    fn fail(&mut self, path: &str, message: &str) -> String {
        self.push(path, message);
        String::new()
    }

    /// `1001-400` listing every violation, if there was one.
    pub fn finish(self, summary: &str) -> Result<(), ApiError> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(summary, self.violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_violation_is_collected() {
        let body = json!({"name": "", "data": {"format": "CSV"}, "ids": ["a", "b"], "description": 3});
        let mut fields = Fields::new(&body);
        fields.required("/name");
        fields.optional("/description");
        assert_eq!(fields.one_of("/data/format", &["tabular"], "tabular"), "");
        fields.single_id("/ids", "source connection");
        assert_eq!(fields.one_of("/missing", &["tabular"], "tabular"), "tabular");
        let Err(ApiError::Flow { details, .. }) = fields.finish("bad") else {
            panic!("violations expected")
        };
        let paths: Vec<&str> = details.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["/name", "/description", "/data/format", "/ids"]);
    }
}
