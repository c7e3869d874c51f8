//! Messages as a PostgreSQL 15 server sent them (`pg_logical_slot_peek_binary_changes`
//! with `proto_version 1, binary true, messages true` on `t(id int primary key, doc text
//! STORAGE EXTERNAL, n int)`), and malformed ones.

use super::*;

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

#[test]
fn a_transaction_with_an_update_keeping_a_toasted_value() {
    let begin = hex("420000000001535c00000304907c3a2318000002d9");
    assert_eq!(
        parse(&begin).unwrap(),
        Message::Begin {
            final_lsn: Lsn(0x1535C00),
            xid: 729
        }
    );
    let relation = hex(
        "520000400c7075626c69630074006400030169640000000017ffffffff00646f630000000019ffffffff006e0000000017ffffffff",
    );
    let Message::Relation(relation) = parse(&relation).unwrap() else {
        panic!("a relation")
    };
    assert_eq!(
        (relation.id, relation.namespace.as_str(), relation.name.as_str()),
        (0x400c, "public", "t")
    );
    assert_eq!(relation.replica_identity, b'd');
    let columns: Vec<(bool, &str, u32, i32)> = relation
        .columns
        .iter()
        .map(|c| (c.key, c.name.as_str(), c.type_oid, c.type_modifier))
        .collect();
    assert_eq!(
        columns,
        [(true, "id", 23, -1), (false, "doc", 25, -1), (false, "n", 23, -1)]
    );

    // update t set n = n + 1 where id = 1: the TOASTed doc is "unchanged".
    let update = hex("550000400c4e000362000000040000000175620000000400000001");
    assert_eq!(
        parse(&update).unwrap(),
        Message::Update {
            relation: 0x400c,
            old: None,
            new: vec![
                Value::Binary(&[0, 0, 0, 1]),
                Value::Unchanged,
                Value::Binary(&[0, 0, 0, 1])
            ],
        }
    );
    let commit = hex("43000000000001535c000000000001535c30000304907c3a2318");
    assert_eq!(
        parse(&commit).unwrap(),
        Message::Commit {
            commit_lsn: Lsn(0x1535C00),
            end_lsn: Lsn(0x1535C30)
        }
    );
}

#[test]
fn a_key_change_carries_the_old_key() {
    // update t set id = 10 where id = 2
    let update = hex("550000400c4b00036200000004000000026e6e4e000362000000040000000a75620000000400000000");
    let Message::Update { old, new, .. } = parse(&update).unwrap() else {
        panic!("an update")
    };
    assert_eq!(
        old,
        Some((
            OldTuple::Key,
            vec![Value::Binary(&[0, 0, 0, 2]), Value::Null, Value::Null]
        ))
    );
    assert_eq!(new[0], Value::Binary(&[0, 0, 0, 10]));
    assert_eq!(new[1], Value::Unchanged);
}

#[test]
fn deletes_and_truncates() {
    let delete = hex("440000400c4b00036200000004000000036e6e");
    assert_eq!(
        parse(&delete).unwrap(),
        Message::Delete {
            relation: 0x400c,
            old: (
                OldTuple::Key,
                vec![Value::Binary(&[0, 0, 0, 3]), Value::Null, Value::Null]
            ),
        }
    );
    let truncate = hex("5400000001000000400c");
    assert_eq!(
        parse(&truncate).unwrap(),
        Message::Truncate {
            relations: vec![0x400c]
        }
    );
}

#[test]
fn logical_messages() {
    let mut bytes = vec![b'M', 1];
    bytes.extend(0x1234u64.to_be_bytes());
    bytes.extend(b"inlet\0");
    bytes.extend(3u32.to_be_bytes());
    bytes.extend(b"abc");
    assert_eq!(
        parse(&bytes).unwrap(),
        Message::Logical {
            transactional: true,
            prefix: "inlet",
            content: b"abc"
        }
    );
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    let update = hex("550000400c4e000362000000040000000175620000000400000001");
    for end in 0..update.len() {
        assert!(parse(&update[..end]).is_err(), "cut at {end}");
    }
    for bad in [&b"Z"[..], b"", b"I\0\0\0\x01X", b"U\0\0\0\x01N\xff\xff"] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    // A value kind that does not exist, and a negative length.
    assert!(parse(&hex("490000400c4e000178")).is_err());
    assert!(parse(&hex("490000400c4e000162ffffffff")).is_err());
}
