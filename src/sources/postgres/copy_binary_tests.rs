use super::*;
use crate::sources::TableRef;
use crate::sources::schema::ColumnInfo;
use crate::sources::types::InletType;
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;

fn column(name: &str, inlet_type: InletType, source: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        inlet_type,
        original_type: source.into(),
        source_type: source.into(),
        nullable: true,
    }
}

fn plan() -> Arc<DecodePlan> {
    let table = TableSchema {
        table: TableRef {
            schema: "public".into(),
            table: "t".into(),
        },
        columns: vec![
            column("id", InletType::Integer, "int4"),
            column("name", InletType::String, "text"),
            column("tags", InletType::Array(Box::new(InletType::Integer)), "_int4"),
            column("at", InletType::Date, "date"),
        ],
    };
    Arc::new(DecodePlan::new(&table).unwrap())
}

fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(bytes) => {
            out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

/// A one-dimensional int4 array with a NULL in the middle.
fn int_array(values: &[Option<i32>]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [1i32, 1, 23, values.len() as i32, 1] {
        out.extend_from_slice(&part.to_be_bytes());
    }
    for value in values {
        field(&mut out, value.map(|v| v.to_be_bytes()).as_ref().map(|b| &b[..]));
    }
    out
}

/// A COPY stream of `rows` rows: id i, name "row i" (NULL for every third), tags
/// [i, NULL], date 2000-01-01 + i days.
fn stream(rows: i32) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&4u32.to_be_bytes());
    out.extend_from_slice(b"ext!");
    for i in 0..rows {
        out.extend_from_slice(&4i16.to_be_bytes());
        field(&mut out, Some(&i.to_be_bytes()));
        let name = format!("row {i}");
        field(&mut out, (i % 3 != 0).then_some(name.as_bytes()));
        field(&mut out, Some(&int_array(&[Some(i), None])));
        field(&mut out, Some(&i.to_be_bytes()));
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

fn decode_in_chunks(bytes: &[u8], chunk: usize, batch_rows: usize) -> Result<Vec<RecordBatch>, DecodeError> {
    let mut decoder = CopyDecoder::new(plan(), batch_rows);
    let mut batches = Vec::new();
    for piece in bytes.chunks(chunk) {
        decoder.feed(piece)?;
        batches.extend(decoder.take_ready());
    }
    batches.extend(decoder.finish()?);
    Ok(batches)
}

#[test]
fn tuples_decode_whatever_the_chunk_edges() {
    let bytes = stream(10);
    let whole = decode_in_chunks(&bytes, bytes.len(), 4).unwrap();
    assert_eq!(whole.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [4, 4, 2]);
    for chunk in [1, 2, 3, 7, 19, 64] {
        assert_eq!(decode_in_chunks(&bytes, chunk, 4).unwrap(), whole, "chunks of {chunk}");
    }
    let first = &whole[0];
    let ids = first.column(0).as_primitive::<Int32Type>();
    assert_eq!(ids.values(), &[0, 1, 2, 3]);
    let names = first.column(1).as_string::<i32>();
    assert!(names.is_null(0));
    assert_eq!((names.value(1), names.value(2)), ("row 1", "row 2"));
    let tags = first.column(2).as_list::<i32>();
    let third = tags.value(3);
    let third = third.as_primitive::<Int32Type>();
    assert_eq!((third.len(), third.value(0), third.is_null(1)), (2, 3, true));
    let dates = first.column(3).as_primitive::<arrow_array::types::Date32Type>();
    assert_eq!(dates.value(1), 10_958);
}

#[test]
fn empty_streams_make_no_batches() {
    assert!(decode_in_chunks(&stream(0), 5, 4).unwrap().is_empty());
}

#[test]
fn broken_streams_and_values_are_errors() {
    let bytes = stream(3);
    let mut decoder = CopyDecoder::new(plan(), 4);
    decoder.feed(&bytes[..bytes.len() - 5]).unwrap();
    assert!(decoder.finish().is_err(), "a stream without its trailer");

    let mut bad_date = stream(0);
    bad_date.truncate(bad_date.len() - 2);
    bad_date.extend_from_slice(&4i16.to_be_bytes());
    for value in [
        Some(&1i32.to_be_bytes()[..]),
        None,
        None,
        Some(&i32::MAX.to_be_bytes()[..]),
    ] {
        field(&mut bad_date, value);
    }
    let error = decode_in_chunks(&bad_date, 3, 4).unwrap_err();
    assert_eq!(error.column, Some(3));
    assert_eq!(
        error.issue,
        ValueIssue::cannot_hold("infinity", "a date column cannot hold")
    );

    let mut wrong = stream(0);
    wrong[0] = b'X';
    assert!(decode_in_chunks(&wrong, 100, 4).unwrap_err().column.is_none());
}
