//! Chunks from hand-made tuples: kinds, unchanged cells, key changes, and relations that
//! no longer match the table's catalog.

use arrow_array::{Array, Int32Array, StringArray};

use super::*;
use crate::sources::postgres::cdc::pgoutput::RelationColumn;
use crate::sources::types::InletType;

fn column(name: &str, inlet_type: InletType, source_type: &str, type_oid: u32) -> CatalogColumn {
    CatalogColumn {
        info: ColumnInfo {
            name: name.into(),
            inlet_type,
            original_type: source_type.into(),
            source_type: source_type.into(),
            nullable: true,
            position: None,
        },
        type_oid,
    }
}

fn catalog() -> Vec<CatalogColumn> {
    vec![
        column("id", InletType::Integer, "int4", 23),
        column("doc", InletType::String, "text", 25),
    ]
}

fn relation(doc_oid: u32) -> Relation {
    let col = |name: &str, type_oid| RelationColumn {
        key: name == "id",
        name: name.into(),
        type_oid,
        type_modifier: -1,
    };
    Relation {
        id: 7,
        namespace: "public".into(),
        name: "t".into(),
        replica_identity: b'd',
        columns: vec![col("id", 23), col("doc", doc_oid)],
    }
}

fn builder() -> ChunkBuilder {
    let table = TableRef::parse("public.t", "public").unwrap();
    ChunkBuilder::new(table, catalog(), None, vec!["id".into()], 100)
}

#[test]
fn changes_become_rows_with_their_kinds_and_unchanged_cells() {
    let mut b = builder();
    b.relation(&relation(25)).unwrap();
    let one = 1i32.to_be_bytes();
    let two = 2i32.to_be_bytes();
    b.insert(&[Value::Binary(&one), Value::Binary(b"a")]).unwrap();
    b.update(None, &[Value::Binary(&one), Value::Unchanged]).unwrap();
    let old = (OldTuple::Key, vec![Value::Binary(&one), Value::Null]);
    b.update(Some(&old), &[Value::Binary(&two), Value::Unchanged]).unwrap();
    b.delete(&[Value::Binary(&two), Value::Null]).unwrap();
    b.flush().unwrap();
    let chunks = b.take_ready();
    assert_eq!(chunks.len(), 1);
    let chunk = &chunks[0];
    use ChangeKind::*;
    assert_eq!(chunk.kinds, vec![Insert, Update, Delete, KeyChange, Delete]);
    assert_eq!(
        chunk.unchanged,
        vec![(1, 1), (3, 1)],
        "the unchanged doc of the update and the key change"
    );
    let ids = chunk.batch.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
    assert_eq!(ids.values().to_vec(), vec![1, 1, 1, 2, 2]);
    let docs = chunk.batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(docs.value(0), "a");
    assert!(docs.is_null(1), "an unchanged value is null in the chunk, and listed");
}

#[test]
fn a_full_old_row_fills_unchanged_values() {
    let mut b = builder();
    b.relation(&relation(25)).unwrap();
    let one = 1i32.to_be_bytes();
    let old = (OldTuple::Full, vec![Value::Binary(&one), Value::Binary(b"kept")]);
    b.update(Some(&old), &[Value::Binary(&one), Value::Unchanged]).unwrap();
    b.flush().unwrap();
    let chunk = &b.take_ready()[0];
    assert!(chunk.unchanged.is_empty());
    let docs = chunk.batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(docs.value(0), "kept");
}

#[test]
fn a_column_in_an_earlier_built_in_form_is_read_as_it_was_and_another_refused_naming_it() {
    // Written while `doc` was an int8 (oid 20): read as one; the merge widens or pauses.
    let mut b = builder();
    b.relation(&relation(20)).unwrap();
    let seven = 7i64.to_be_bytes();
    b.insert(&[Value::Binary(&1i32.to_be_bytes()), Value::Binary(&seven)])
        .unwrap();
    b.flush().unwrap();
    let chunk = b.take_ready().pop().unwrap();
    assert_eq!(
        chunk.batch.schema().field(1).data_type(),
        &arrow_schema::DataType::Int64
    );
    // A type that is not built in (a domain, an enum: oids of their own) cannot be read.
    let mut b = builder();
    let error = b.relation(&relation(16_384)).unwrap_err();
    assert!(error.to_string().contains("`doc`"), "{error}");
    assert!(error.to_string().contains("resnapshot"), "{error}");
}

#[test]
fn a_change_before_any_relation_is_an_error() {
    let mut b = builder();
    let one = 1i32.to_be_bytes();
    assert!(b.insert(&[Value::Binary(&one), Value::Null]).is_err());
}
