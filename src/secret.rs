//! A wrapper for secret values (passwords, connection strings, keys) that cannot be
//! printed by accident: it has no `Display`, and its `Debug` shows a fixed mask.

use std::fmt;

/// The text shown wherever a secret would otherwise appear.
pub const MASK: &str = "<secret>";

/// A secret string. Read it only through [`Secret::expose`], at the point of use.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Call it only where the value is handed to the
    /// component that needs it (a database driver, a cipher), never to format text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), MASK);
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(<secret>)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
