//! Folding a run's changes per key, in commit order, into what the merge does to the
//! table: which keys it touches (their rows are replaced or deleted) and, for each key
//! that ends up present, where every one of its values comes from.
//!
//! A value an update left unchanged (an unchanged TOASTed value) comes from the key's
//! previous change in the run when there is one, else from the table's row (`Base`); a
//! key change carries the old key's values over the same way. A truncate forgets every
//! change before it, and the table's rows with it.

use std::collections::HashMap;

use crate::sources::changes::ChangeKind;

/// A key, encoded so that equal keys have equal bytes (`arrow-row`).
pub type Key = Box<[u8]>;

/// Where one value of an upserted row comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Row `row` of chunk `chunk`.
    Change { chunk: u32, row: u32 },
    /// The table's row with this key, as it was before the run.
    Base(Key),
    /// Nothing is known: null.
    Null,
}

/// A key that is present after the run: its row is row `row` of chunk `chunk`, except the
/// columns of `fills`, whose values come from elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upsert {
    pub chunk: u32,
    pub row: u32,
    pub fills: Vec<(u32, Origin)>,
}

/// The end state of each key the run touched: `Some` present, `None` deleted.
#[derive(Debug, Default)]
pub struct Folded {
    pub keys: HashMap<Key, Option<Upsert>>,
    /// A truncate happened: the table's rows before the run are all gone.
    pub truncated: bool,
    pub changes: u64,
}

impl Folded {
    /// The keys whose table rows must be read to fill values (`Base` origins).
    pub fn base_keys(&self) -> impl Iterator<Item = &Key> {
        self.keys
            .values()
            .flatten()
            .flat_map(|upsert| &upsert.fills)
            .filter_map(|(_, origin)| match origin {
                Origin::Base(key) => Some(key),
                _ => None,
            })
    }
}

/// One step of a run's changes: a chunk of rows (with their keys encoded), or a truncate.
pub enum Step<'a> {
    Rows {
        kinds: &'a [ChangeKind],
        /// `(row, column)` cells the change left unchanged, by row.
        unchanged: &'a [(u32, u32)],
        keys: Vec<Key>,
    },
    Truncate,
}

/// Folds `steps` (chunk numbers count the `Rows` steps from 0).
pub fn fold<'a>(steps: impl IntoIterator<Item = Step<'a>>) -> Folded {
    let mut folded = Folded::default();
    // The old key of a key change, and the state it had, until its new row follows.
    let mut pending: Option<(Key, Option<Option<Upsert>>)> = None;
    let mut chunk = 0u32;
    for step in steps {
        let (kinds, unchanged, keys) = match step {
            Step::Truncate => {
                folded.keys.clear();
                folded.truncated = true;
                pending = None;
                continue;
            }
            Step::Rows { kinds, unchanged, keys } => (kinds, unchanged, keys),
        };
        let mut cells = unchanged.iter().peekable();
        for (row, (kind, key)) in kinds.iter().zip(keys).enumerate() {
            let row = row as u32;
            let mut columns = Vec::new();
            while let Some((_, column)) = cells.next_if(|(r, _)| *r == row) {
                columns.push(*column);
            }
            folded.changes += 1;
            let truncated = folded.truncated;
            match kind {
                ChangeKind::Insert => {
                    folded.keys.insert(
                        key,
                        Some(Upsert {
                            chunk,
                            row,
                            fills: Vec::new(),
                        }),
                    );
                }
                ChangeKind::Update => {
                    let fills = fills(&columns, folded.keys.get(&key), &key, truncated);
                    folded.keys.insert(key, Some(Upsert { chunk, row, fills }));
                }
                ChangeKind::Delete => {
                    let prior = folded.keys.insert(key.clone(), None);
                    pending = Some((key, prior));
                    continue;
                }
                ChangeKind::KeyChange => {
                    let fills = match &pending {
                        Some((old, prior)) => fills(&columns, prior.as_ref(), old, truncated),
                        None => columns.iter().map(|c| (*c, Origin::Null)).collect(),
                    };
                    folded.keys.insert(key, Some(Upsert { chunk, row, fills }));
                }
            }
            pending = None;
        }
        chunk += 1;
    }
    folded
}

/// Where the `columns` a change left unchanged come from: the key's state before it.
fn fills(columns: &[u32], prior: Option<&Option<Upsert>>, key: &Key, truncated: bool) -> Vec<(u32, Origin)> {
    columns
        .iter()
        .map(|&column| {
            let origin = match prior {
                Some(Some(before)) => before
                    .fills
                    .iter()
                    .find(|(c, _)| *c == column)
                    .map(|(_, origin)| origin.clone())
                    .unwrap_or(Origin::Change {
                        chunk: before.chunk,
                        row: before.row,
                    }),
                // Deleted before: a change cannot leave a value of a deleted row unchanged.
                Some(None) => Origin::Null,
                None if truncated => Origin::Null,
                None => Origin::Base(key.clone()),
            };
            (column, origin)
        })
        .collect()
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
