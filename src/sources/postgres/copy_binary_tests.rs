use super::*;
use crate::sources::TableRef;
use crate::sources::read::skip::RowIdentity;
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
        position: None,
    }
}

/// Table `public.t` of `id`, `name`, then `list` (the given array column), then `at`.
fn table(list: ColumnInfo) -> TableSchema {
    TableSchema {
        table: TableRef {
            schema: "public".into(),
            table: "t".into(),
        },
        columns: vec![
            column("id", InletType::Integer, "int4"),
            column("name", InletType::String, "text"),
            list,
            column("at", InletType::Date, "date"),
        ],
    }
}

fn plan() -> Arc<DecodePlan> {
    let tags = column("tags", InletType::Array(Box::new(InletType::Integer)), "_int4");
    Arc::new(DecodePlan::new(&table(tags)).unwrap())
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
    let mut decoder = CopyDecoder::new(plan(), batch_rows, 0);
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
fn wide_rows_end_a_batch_at_its_byte_budget() {
    let text = vec![b'x'; BATCH_BYTES / 4];
    let mut bytes = stream(0);
    bytes.truncate(bytes.len() - 2);
    for i in 0..10i32 {
        bytes.extend_from_slice(&4i16.to_be_bytes());
        field(&mut bytes, Some(&i.to_be_bytes()));
        field(&mut bytes, Some(&text));
        field(&mut bytes, None);
        field(&mut bytes, None);
    }
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    let batches = decode_in_chunks(&bytes, 64 * 1024, 1000).unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [4, 4, 2]);
    assert_eq!(batches[1].column(1).as_string::<i32>().value(0).len(), text.len());
}

#[test]
fn empty_streams_make_no_batches() {
    assert!(decode_in_chunks(&stream(0), 5, 4).unwrap().is_empty());
}

#[test]
fn broken_streams_and_values_are_errors() {
    let bytes = stream(3);
    let mut decoder = CopyDecoder::new(plan(), 4, 0);
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

/// A plan with a list of dates, skipping rows and naming them by `id`.
fn skipping_plan() -> Arc<DecodePlan> {
    let days = column("days", InletType::Array(Box::new(InletType::Date)), "_date");
    let identity = RowIdentity::new(vec!["id".into()], false);
    Arc::new(DecodePlan::new(&table(days)).unwrap().skipping(identity))
}

/// A one-dimensional date array (1082 is date's OID).
fn date_array(values: &[i32]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [1i32, 0, 1082, values.len() as i32, 1] {
        out.extend_from_slice(&part.to_be_bytes());
    }
    for value in values {
        field(&mut out, Some(&value.to_be_bytes()));
    }
    out
}

#[test]
fn skipped_rows_leave_their_batch_and_are_described() {
    let mut bytes = stream(0);
    bytes.truncate(bytes.len() - 2);
    for i in 0..6i32 {
        let name: &[u8] = if i == 2 { b"caf\xe9" } else { b"ok" };
        let days = if i == 4 {
            date_array(&[1, i32::MAX])
        } else {
            date_array(&[i])
        };
        let at = if i == 5 { i32::MIN } else { i };
        bytes.extend_from_slice(&5i16.to_be_bytes());
        for value in [
            &i.to_be_bytes()[..],
            name,
            &days,
            &at.to_be_bytes(),
            i.to_string().as_bytes(),
        ] {
            field(&mut bytes, Some(value));
        }
    }
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    let mut decoder = CopyDecoder::new(skipping_plan(), 4, 3);
    decoder.feed(&bytes).unwrap();
    let mut batches = decoder.take_ready();
    let (count, described) = decoder.take_skipped();
    batches.extend(decoder.finish().unwrap());

    assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [3]);
    let ids = batches[0].column(0).as_primitive::<Int32Type>();
    assert_eq!(ids.values(), &[0, 1, 3]);
    let days = batches[0].column(2).as_list::<i32>();
    let third = days.value(2);
    assert_eq!(
        third.as_primitive::<arrow_array::types::Date32Type>().values(),
        &[3 + 10_957]
    );
    assert_eq!(count, 3);
    let found: Vec<_> = described
        .iter()
        .map(|bad| (bad.column, bad.row.key.clone(), bad.row.ordinal, bad.row.partition))
        .collect();
    let key = |id: &str| vec![("id".to_string(), id.to_string())];
    assert_eq!(found, [(1, key("2"), 3, 3), (2, key("4"), 5, 3), (3, key("5"), 6, 3)]);
    assert_eq!(
        described[0].issue,
        ValueIssue::cannot_hold("caf\\xe9", "a string column cannot hold: it is not UTF-8")
    );
    assert_eq!(
        described[2].issue,
        ValueIssue::cannot_hold("-infinity", "a date column cannot hold")
    );
}

/// Property tests (fuzzing target) of the COPY binary decoder.
mod proptests {
    use super::*;
    use crate::proptest_config::config;
    use proptest::prelude::*;

    fn decode_in(bytes: &[u8], cuts: &[usize], batch_rows: usize) -> Result<Vec<RecordBatch>, DecodeError> {
        let mut decoder = CopyDecoder::new(plan(), batch_rows, 0);
        let mut batches = Vec::new();
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let end = cut.clamp(at, bytes.len());
            decoder.feed(&bytes[at..end])?;
            batches.extend(decoder.take_ready());
            at = end;
        }
        batches.extend(decoder.finish()?);
        Ok(batches)
    }

    fn sorted(mut cuts: Vec<usize>) -> Vec<usize> {
        cuts.sort_unstable();
        cuts
    }

    proptest! {
        #![proptest_config(config())]

        /// A valid stream decodes to the same batches wherever its chunks end.
        #[test]
        fn chunk_edges_do_not_matter(rows in 0i32..40, cuts in prop::collection::vec(0usize..4000, 0..12), batch in 1usize..9) {
            let bytes = stream(rows);
            let whole = decode_in(&bytes, &[], batch).unwrap();
            prop_assert_eq!(whole.iter().map(|b| b.num_rows()).sum::<usize>(), rows as usize);
            prop_assert_eq!(decode_in(&bytes, &sorted(cuts), batch).unwrap(), whole);
        }

        /// A stream with bytes changed, cut short or lengthened is decoded or refused,
        /// never a panic nor an endless loop.
        #[test]
        fn damaged_streams_are_decoded_or_refused(
            rows in 0i32..12,
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            keep in any::<prop::sample::Index>(),
            tail in prop::collection::vec(any::<u8>(), 0..16),
            cuts in prop::collection::vec(0usize..600, 0..6),
        ) {
            let mut bytes = stream(rows);
            for (at, byte) in flips {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes.truncate(keep.index(bytes.len() + 1));
            bytes.extend(tail);
            let _ = decode_in(&bytes, &sorted(cuts), 4);
        }

        /// Arbitrary bytes after a valid header are decoded or refused.
        #[test]
        fn arbitrary_tuples_are_decoded_or_refused(body in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = stream(0);
            bytes.truncate(bytes.len() - 2);
            bytes.extend(body);
            let _ = decode_in(&bytes, &[], 3);
        }
    }
}
