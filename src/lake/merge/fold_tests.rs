//! Folding by hand-made steps: the last change of a key wins, deletes stay deleted,
//! unchanged values chain back to the change or the table row that has them, key changes
//! carry values over, and a truncate forgets everything before it.

use super::*;
use ChangeKind::*;

fn key(n: u8) -> Key {
    vec![n].into_boxed_slice()
}

fn rows<'a>(kinds: &'a [ChangeKind], unchanged: &'a [(u32, u32)], keys: &[u8]) -> Step<'a> {
    Step::Rows {
        kinds,
        unchanged,
        keys: keys.iter().map(|k| key(*k)).collect(),
    }
}

fn upsert(folded: &Folded, k: u8) -> &Upsert {
    folded.keys[&key(k)].as_ref().expect("present")
}

#[test]
fn the_last_change_of_a_key_wins_and_deletes_stay() {
    let folded = fold([
        rows(&[Insert, Update, Insert], &[], &[1, 1, 2]),
        rows(&[Delete, Update], &[], &[2, 1]),
    ]);
    assert_eq!(folded.keys.len(), 2);
    assert_eq!(
        upsert(&folded, 1),
        &Upsert {
            chunk: 1,
            row: 1,
            fills: vec![]
        }
    );
    assert_eq!(folded.keys[&key(2)], None, "deleted");
    assert_eq!(folded.changes, 5);
    assert!(!folded.truncated);
}

#[test]
fn unchanged_values_come_from_the_previous_change_or_the_table() {
    // Key 1: updated leaving column 2 unchanged, twice: the table's row has it.
    // Key 2: inserted, then updated leaving column 1 unchanged: the insert has it.
    let folded = fold([
        rows(&[Update, Insert], &[(0, 2)], &[1, 2]),
        rows(&[Update, Update], &[(0, 2), (1, 1)], &[1, 2]),
    ]);
    assert_eq!(upsert(&folded, 1).fills, vec![(2, Origin::Base(key(1)))]);
    assert_eq!(upsert(&folded, 2).fills, vec![(1, Origin::Change { chunk: 0, row: 1 })]);
    assert_eq!(folded.base_keys().collect::<Vec<_>>(), vec![&key(1)]);
}

#[test]
fn a_key_change_carries_the_old_keys_values_over() {
    // Key 1 becomes key 3 (its column 1 unchanged), across a chunk boundary.
    let folded = fold([rows(&[Delete], &[], &[1]), rows(&[KeyChange], &[(0, 1)], &[3])]);
    assert_eq!(folded.keys[&key(1)], None);
    assert_eq!(upsert(&folded, 3).fills, vec![(1, Origin::Base(key(1)))]);
    // An old key updated in the run first: its change has the value.
    let folded = fold([rows(&[Update, Delete, KeyChange], &[(2, 1)], &[1, 1, 3])]);
    assert_eq!(upsert(&folded, 3).fills, vec![(1, Origin::Change { chunk: 0, row: 0 })]);
}

#[test]
fn a_truncate_forgets_every_change_and_row_before_it() {
    let folded = fold([
        rows(&[Insert, Update], &[], &[1, 2]),
        Step::Truncate,
        rows(&[Insert, Update], &[(1, 1)], &[3, 4]),
    ]);
    assert!(folded.truncated);
    assert_eq!(folded.keys.len(), 2);
    assert!(folded.keys.contains_key(&key(3)));
    assert_eq!(
        upsert(&folded, 4).fills,
        vec![(1, Origin::Null)],
        "no table row to take it from"
    );
    assert_eq!(folded.base_keys().count(), 0);
}
