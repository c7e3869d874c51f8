//! Scalar values of a binary COPY from their big-endian bytes: fixed-size checks, text,
//! UUIDs, and dates and timestamps moved from PostgreSQL's epoch (2000-01-01) to Arrow's
//! (1970-01-01), within the years a lake holds.

use crate::sources::read::ValueIssue;
use crate::sources::read::calendar::{
    OUTSIDE_LAKE, PG_EPOCH_DAYS, PG_EPOCH_MICROS, date_text, lake_days, lake_micros, timestamp_text,
};
use crate::sources::read::skip::escaped;

pub fn fixed<const N: usize>(value: &[u8], what: &str) -> Result<[u8; N], ValueIssue> {
    value
        .try_into()
        .map_err(|_| ValueIssue::malformed(format!("the server sent {} bytes for {what}, not {N}", value.len())))
}

/// The value as text. `simdutf8` checks it several times faster than `std` does, which
/// matters: every string value of a copy passes here.
pub fn utf8(value: &[u8]) -> Result<&str, ValueIssue> {
    simdutf8::basic::from_utf8(value)
        .map_err(|_| ValueIssue::cannot_hold(escaped(value), "a string column cannot hold: it is not UTF-8"))
}

/// The canonical lowercase text of a UUID.
pub fn uuid(bytes: [u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 36];
    let mut at = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text[at] = b'-';
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 15)];
        at += 2;
    }
    text
}

/// Days since 2000-01-01 → days since 1970-01-01, within the lake's years.
pub fn date(days: i32) -> Result<i32, ValueIssue> {
    let text = match days {
        i32::MAX => "infinity".to_string(),
        i32::MIN => "-infinity".to_string(),
        _ => {
            let unix = i64::from(days) + PG_EPOCH_DAYS;
            if lake_days(unix) {
                return Ok(unix as i32);
            }
            return Err(ValueIssue::cannot_hold(date_text(unix), OUTSIDE_LAKE));
        }
    };
    Err(ValueIssue::cannot_hold(text, "a date column cannot hold"))
}

/// Microseconds since 2000-01-01 → since 1970-01-01, within the lake's years.
pub fn timestamp(micros: i64) -> Result<i64, ValueIssue> {
    let text = match micros {
        i64::MAX => "infinity".to_string(),
        i64::MIN => "-infinity".to_string(),
        _ => {
            let unix = micros.saturating_add(PG_EPOCH_MICROS);
            if lake_micros(unix) {
                return Ok(unix);
            }
            return Err(ValueIssue::cannot_hold(timestamp_text(unix), OUTSIDE_LAKE));
        }
    };
    Err(ValueIssue::cannot_hold(text, "a timestamp column cannot hold"))
}
