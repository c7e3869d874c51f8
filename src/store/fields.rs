//! The searchable fields of stored resources: every value of a document, one row each,
//! under its dotted path with array positions left out (`relatedObjects.id` holds the
//! `id` of every element of `relatedObjects`). Lists filter on these rows in SQL, the
//! same way on both backends, with the `property` semantics of a list (docs/api.md):
//! a path matches when any of its values does.
//!
//! A row is a string (`s`), number (`n`, its value in `num` and its JSON text in `str`),
//! boolean (`b`, `true`/`false` in `str`) or object (`o`, so that an object's path
//! exists). Nulls and arrays themselves have no row: an empty list is like a missing one.

use serde_json::Value;
use sqlx::{AnyConnection, Row};

use super::StoreError;

/// One searchable value.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub path: String,
    pub kind: char,
    pub text: Option<String>,
    pub number: Option<f64>,
}

/// Rows written per statement (six values each).
const ROWS_PER_INSERT: usize = 100;

/// Every searchable value of `doc`.
pub fn flatten(doc: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    walk(doc, String::new(), &mut out);
    out
}

fn walk(value: &Value, path: String, out: &mut Vec<Field>) {
    let field = |kind, text: Option<String>, number| Field {
        path: path.clone(),
        kind,
        text,
        number,
    };
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(field('b', Some(b.to_string()), None)),
        Value::Number(n) => out.push(field('n', Some(n.to_string()), n.as_f64())),
        Value::String(s) => out.push(field('s', Some(s.clone()), None)),
        Value::Array(items) => {
            for item in items {
                walk(item, path.clone(), out);
            }
        }
        Value::Object(entries) => {
            if !path.is_empty() {
                out.push(field('o', None, None));
            }
            for (key, item) in entries {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(item, child, out);
            }
        }
    }
}

/// Replaces the searchable fields of resource (`kind`, `id`) by those of `doc`.
pub(super) async fn replace(
    connection: &mut AnyConnection,
    kind: &str,
    id: &str,
    doc: &Value,
) -> Result<(), StoreError> {
    remove(connection, kind, id).await?;
    let fields = flatten(doc);
    for chunk in fields.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = i * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO resource_fields (kind, id, path, value_kind, str, num) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for field in chunk {
            query = query
                .bind(kind)
                .bind(id)
                .bind(&field.path)
                .bind(field.kind.to_string())
                .bind(field.text.clone())
                // `num` is read only for numbers; a NULL of the Any driver does not bind
                // as a double on PostgreSQL.
                .bind(field.number.unwrap_or_default());
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Writes the `name` column and the searchable fields of every stored resource (after the
/// migration that made them). A document that cannot be read keeps neither.
pub(super) async fn backfill(connection: &mut AnyConnection) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT kind, id, doc FROM resources")
        .fetch_all(&mut *connection)
        .await?;
    for row in rows {
        let (kind, id, text): (String, String, String) =
            (row.try_get("kind")?, row.try_get("id")?, row.try_get("doc")?);
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!(%kind, %id, "a stored document cannot be read; it is left out of list filters");
            continue;
        };
        sqlx::query("UPDATE resources SET name = $1 WHERE kind = $2 AND id = $3")
            .bind(name_of(&doc))
            .bind(&kind)
            .bind(&id)
            .execute(&mut *connection)
            .await?;
        replace(connection, &kind, &id, &doc).await?;
    }
    Ok(())
}

/// The `name` column of a resource: its document's `name` when that is a string.
pub(super) fn name_of(doc: &Value) -> &str {
    doc["name"].as_str().unwrap_or_default()
}

/// Removes the searchable fields of resource (`kind`, `id`).
pub(super) async fn remove(connection: &mut AnyConnection, kind: &str, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM resource_fields WHERE kind = $1 AND id = $2")
        .bind(kind)
        .bind(id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_value_is_a_row_under_its_path_without_positions() {
        let doc = json!({"name": "n", "n": 1.5, "on": true, "none": null, "empty": [], "o": {},
            "relatedObjects": [{"type": "dataSet", "id": "d1"}, {"id": "d2"}]});
        let rows: Vec<(String, char, Option<String>)> =
            flatten(&doc).into_iter().map(|f| (f.path, f.kind, f.text)).collect();
        let expected = [
            ("empty", None),
            ("n", Some(('n', "1.5"))),
            ("name", Some(('s', "n"))),
            ("none", None),
            ("o", Some(('o', ""))),
            ("on", Some(('b', "true"))),
        ];
        for (path, row) in expected {
            let found: Vec<_> = rows.iter().filter(|r| r.0 == path).collect();
            match row {
                None => assert!(found.is_empty(), "{path}: {found:?}"),
                Some((kind, text)) => {
                    assert_eq!(found.len(), 1, "{path}");
                    assert_eq!(found[0].1, kind);
                    assert_eq!(found[0].2.as_deref().unwrap_or(""), text);
                }
            }
        }
        let ids: Vec<_> = rows
            .iter()
            .filter(|r| r.0 == "relatedObjects.id")
            .map(|r| r.2.clone().unwrap())
            .collect();
        assert_eq!(ids, ["d1", "d2"]);
        assert_eq!(
            rows.iter().filter(|r| r.0 == "relatedObjects").count(),
            2,
            "each element object"
        );
    }
}
