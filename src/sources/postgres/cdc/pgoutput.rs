//! The messages of PostgreSQL's `pgoutput` plugin (logical replication protocol version
//! 1, with the `binary` and `messages` options), parsed from the bytes one row of
//! `pg_logical_slot_peek_binary_changes` carries. Values stay borrowed from those bytes.
//!
//! The format is PostgreSQL's "Logical Replication Message Formats": one tag byte, then
//! big-endian integers, NUL-terminated strings and tuples (a 16-bit column count, then
//! per column `n` null, `u` unchanged TOASTed value, or `t`/`b` with a 32-bit length and
//! the value in text or binary form).

use crate::sources::changes::Lsn;

/// One value of a tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    /// A TOASTed value the change left as it was: its bytes were not sent.
    Unchanged,
    /// The value in its type's binary (send) form.
    Binary(&'a [u8]),
    /// The value in its type's text form (sent for types without a binary form).
    Text(&'a [u8]),
}

/// A column of a relation as the publisher describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (the key old tuples carry).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// A relation's description, sent before its first change in a session and again after
/// its definition changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub id: u32,
    pub namespace: String,
    pub name: String,
    /// `d` default (primary key), `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// Which old tuple an update or delete carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OldTuple {
    /// The replica identity's columns (others null): a delete, or an update that changed them.
    Key,
    /// The whole old row (`REPLICA IDENTITY FULL`).
    Full,
}

/// One decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Begin {
        final_lsn: Lsn,
        xid: u32,
    },
    Commit {
        commit_lsn: Lsn,
        /// The end of the commit record: where a slot moves to once this transaction landed.
        end_lsn: Lsn,
    },
    Relation(Relation),
    Insert {
        relation: u32,
        new: Vec<Value<'a>>,
    },
    Update {
        relation: u32,
        old: Option<(OldTuple, Vec<Value<'a>>)>,
        new: Vec<Value<'a>>,
    },
    Delete {
        relation: u32,
        old: (OldTuple, Vec<Value<'a>>),
    },
    Truncate {
        relations: Vec<u32>,
    },
    /// A message written with `pg_logical_emit_message`.
    Logical {
        transactional: bool,
        prefix: &'a str,
        content: &'a [u8],
    },
    /// Origin and type messages: nothing a capture needs.
    Other(u8),
}

/// Why a message could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a pgoutput message ({tag}) is malformed: {what}")]
pub struct Malformed {
    pub tag: char,
    pub what: &'static str,
}

struct Reader<'a> {
    bytes: &'a [u8],
    tag: char,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: &'static str) -> Result<T, Malformed> {
        Err(Malformed { tag: self.tag, what })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.bytes.len() < n {
            return self.fail("it ends early");
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("two bytes")))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(self.u32()? as i32)
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }

    fn string(&mut self) -> Result<&'a str, Malformed> {
        let Some(end) = self.bytes.iter().position(|&b| b == 0) else {
            return self.fail("a string has no end");
        };
        let text = std::str::from_utf8(&self.bytes[..end]).or_else(|_| self.fail("a string is not UTF-8"))?;
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Vec<Value<'a>>, Malformed> {
        let count = self.i16()?;
        if count < 0 {
            return self.fail("a tuple has a negative column count");
        }
        (0..count)
            .map(|_| match self.u8()? {
                b'n' => Ok(Value::Null),
                b'u' => Ok(Value::Unchanged),
                kind @ (b't' | b'b') => {
                    let length = self.i32()?;
                    if length < 0 {
                        return self.fail("a value has a negative length");
                    }
                    let bytes = self.take(length as usize)?;
                    Ok(if kind == b'b' {
                        Value::Binary(bytes)
                    } else {
                        Value::Text(bytes)
                    })
                }
                _ => self.fail("a value has an unknown kind"),
            })
            .collect()
    }

    fn old_tuple(&mut self, kind: u8) -> Result<(OldTuple, Vec<Value<'a>>), Malformed> {
        let which = match kind {
            b'K' => OldTuple::Key,
            b'O' => OldTuple::Full,
            _ => return self.fail("an old tuple has an unknown kind"),
        };
        Ok((which, self.tuple()?))
    }

    fn relation(&mut self) -> Result<Relation, Malformed> {
        let id = self.u32()?;
        let namespace = self.string()?.to_string();
        let name = self.string()?.to_string();
        let replica_identity = self.u8()?;
        let count = self.i16()?;
        let columns = (0..count.max(0))
            .map(|_| {
                Ok(RelationColumn {
                    key: self.u8()? & 1 == 1,
                    name: self.string()?.to_string(),
                    type_oid: self.u32()?,
                    type_modifier: self.i32()?,
                })
            })
            .collect::<Result<_, Malformed>>()?;
        Ok(Relation {
            id,
            namespace,
            name,
            replica_identity,
            columns,
        })
    }
}

/// Parses one message.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, Malformed> {
    let Some((&tag, body)) = bytes.split_first() else {
        return Err(Malformed {
            tag: '?',
            what: "it is empty",
        });
    };
    let mut r = Reader {
        bytes: body,
        tag: tag as char,
    };
    let message = match tag {
        b'B' => {
            let final_lsn = Lsn(r.u64()?);
            let _commit_time = r.u64()?;
            Message::Begin {
                final_lsn,
                xid: r.u32()?,
            }
        }
        b'C' => {
            let _flags = r.u8()?;
            let commit_lsn = Lsn(r.u64()?);
            let end_lsn = Lsn(r.u64()?);
            let _commit_time = r.u64()?;
            Message::Commit { commit_lsn, end_lsn }
        }
        b'R' => Message::Relation(r.relation()?),
        b'I' => {
            let relation = r.u32()?;
            if r.u8()? != b'N' {
                return r.fail("an insert has no new tuple");
            }
            Message::Insert {
                relation,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old, new) = match r.u8()? {
                b'N' => (None, r.tuple()?),
                kind => {
                    let old = r.old_tuple(kind)?;
                    if r.u8()? != b'N' {
                        return r.fail("an update has no new tuple");
                    }
                    (Some(old), r.tuple()?)
                }
            };
            Message::Update { relation, old, new }
        }
        b'D' => {
            let relation = r.u32()?;
            let kind = r.u8()?;
            Message::Delete {
                relation,
                old: r.old_tuple(kind)?,
            }
        }
        b'T' => {
            let count = r.u32()?;
            let _options = r.u8()?;
            let relations = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Message::Truncate { relations }
        }
        b'M' => {
            let transactional = r.u8()? & 1 == 1;
            let _lsn = r.u64()?;
            let prefix = r.string()?;
            let length = r.u32()?;
            Message::Logical {
                transactional,
                prefix,
                content: r.take(length as usize)?,
            }
        }
        b'O' | b'Y' => Message::Other(tag),
        _ => return r.fail("its tag is unknown"),
    };
    Ok(message)
}

#[cfg(test)]
#[path = "pgoutput_tests.rs"]
mod tests;
