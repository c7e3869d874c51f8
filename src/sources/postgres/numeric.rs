//! PostgreSQL's binary `numeric` (base-10000 digits with a weight, a sign and a display
//! scale) as the unscaled 128-bit integer of an Arrow `Decimal128(precision, scale)`,
//! exactly: a value with more fractional digits than the scale, more digits than the
//! precision, or NaN/±Infinity is a [`ValueIssue`] naming the value.

use crate::sources::read::ValueIssue;

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const INFINITY: u16 = 0xD000;
const NEGATIVE_INFINITY: u16 = 0xF000;

/// 10^0 ..= 10^38: every power of ten an i128 holds.
const POW10: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut at = 1;
    while at < 39 {
        table[at] = table[at - 1] * 10;
        at += 1;
    }
    table
};

/// The Arrow decimal a numeric column is read into.
#[derive(Clone, Copy, Debug)]
pub struct DecimalShape {
    pub precision: u8,
    pub scale: i8,
}

/// The unscaled value of a binary numeric at `shape`'s scale.
pub fn decode(bytes: &[u8], shape: DecimalShape) -> Result<i128, ValueIssue> {
    let header = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
    if bytes.len() < 8 {
        return Err(ValueIssue::malformed(
            "the server sent a numeric shorter than its header",
        ));
    }
    let (ndigits, weight, sign) = (header(0) as usize, header(2) as i16, header(4));
    if bytes.len() != 8 + 2 * ndigits {
        return Err(ValueIssue::malformed("the server sent a numeric of the wrong length"));
    }
    match sign {
        POSITIVE | NEGATIVE => {}
        NAN | INFINITY | NEGATIVE_INFINITY => {
            return Err(ValueIssue::cannot_hold(text(bytes), "a decimal column cannot hold"));
        }
        _ => return Err(ValueIssue::malformed("the server sent a numeric with an unknown sign")),
    }
    let scale = i32::from(shape.scale);
    let mut value: i128 = 0;
    for i in 0..ndigits {
        let digit = u32::from(header(8 + 2 * i));
        if digit == 0 {
            continue;
        }
        // The power of ten this base-10000 digit stands for in the unscaled value.
        let exponent = 4 * (i32::from(weight) - i as i32) + scale;
        let part = if exponent >= 0 {
            POW10
                .get(exponent as usize)
                .and_then(|p| i128::from(digit).checked_mul(*p))
        } else {
            // In u32: a 128-bit division costs a call, and every value with cents has one.
            let divisor = [1u32, 10, 100, 1000, 10000][(-exponent).min(4) as usize];
            if digit % divisor != 0 {
                return Err(ValueIssue::cannot_hold(text(bytes), too_precise(shape)));
            }
            Some(i128::from(digit / divisor))
        };
        value = part
            .and_then(|p| value.checked_add(p))
            .ok_or_else(|| too_big(bytes, shape))?;
    }
    if value >= POW10[usize::from(shape.precision)] {
        return Err(too_big(bytes, shape));
    }
    Ok(if sign == NEGATIVE { -value } else { value })
}

fn too_precise(shape: DecimalShape) -> String {
    let DecimalShape { precision, scale } = shape;
    format!("has more fractional digits than the {scale} a decimal({precision},{scale}) column keeps")
}

fn too_big(bytes: &[u8], shape: DecimalShape) -> ValueIssue {
    let DecimalShape { precision, scale } = shape;
    ValueIssue::cannot_hold(
        text(bytes),
        format!("does not fit a decimal({precision},{scale}) column"),
    )
}

/// PostgreSQL's text of a binary numeric (for messages): `-12.50`, `NaN`, `Infinity`.
pub fn text(bytes: &[u8]) -> String {
    let header = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
    let (ndigits, weight, sign, dscale) = (header(0) as usize, header(2) as i16, header(4), header(6));
    match sign {
        NAN => return "NaN".into(),
        INFINITY => return "Infinity".into(),
        NEGATIVE_INFINITY => return "-Infinity".into(),
        _ => {}
    }
    let digit = |i: i32| match usize::try_from(i) {
        Ok(i) if i < ndigits && 8 + 2 * i + 1 < bytes.len() => header(8 + 2 * i),
        _ => 0,
    };
    let mut out = String::new();
    if sign == NEGATIVE {
        out.push('-');
    }
    let weight = i32::from(weight);
    // Digit i stands for 10000^(weight - i): the whole part is digits 0..=weight.
    let whole: String = (0..=weight).map(|i| format!("{:04}", digit(i))).collect();
    let whole = whole.trim_start_matches('0');
    out.push_str(if whole.is_empty() { "0" } else { whole });
    if dscale > 0 {
        let groups = usize::from(dscale).div_ceil(4) as i32;
        let fraction: String = (1..=groups).map(|g| format!("{:04}", digit(weight + g))).collect();
        out.push('.');
        out.push_str(&fraction[..usize::from(dscale)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for part in [digits.len() as u16, weight as u16, sign, dscale] {
            bytes.extend_from_slice(&part.to_be_bytes());
        }
        for d in digits {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes
    }

    fn shape(precision: u8, scale: i8) -> DecimalShape {
        DecimalShape { precision, scale }
    }

    #[test]
    fn values_convert_exactly() {
        // 12345678901234567890123456.0123456789 in numeric(38,10)
        let big = numeric(
            6,
            POSITIVE,
            10,
            &[12, 3456, 7890, 1234, 5678, 9012, 3456, 123, 4567, 8900],
        );
        assert_eq!(decode(&big, shape(38, 10)), Ok(123456789012345678901234560123456789));
        assert_eq!(text(&big), "12345678901234567890123456.0123456789");
        let small = numeric(-3, NEGATIVE, 10, &[100]); // -0.0000000001
        assert_eq!(decode(&small, shape(38, 10)), Ok(-1));
        assert_eq!(text(&small), "-0.0000000001");
        let cents = numeric(0, POSITIVE, 2, &[12, 5000]); // 12.50
        assert_eq!(decode(&cents, shape(12, 2)), Ok(1250));
        assert_eq!(decode(&cents, shape(12, 1)), Ok(125));
        assert_eq!(text(&cents), "12.50");
        let zero = numeric(0, POSITIVE, 0, &[]);
        assert_eq!(decode(&zero, shape(5, 2)), Ok(0));
        assert_eq!(text(&zero), "0");
        let million = numeric(1, POSITIVE, 0, &[100]); // 1000000
        assert_eq!(decode(&million, shape(38, 18)), Ok(1_000_000 * 10i128.pow(18)));
        assert_eq!(text(&million), "1000000");
    }

    #[test]
    fn values_that_do_not_fit_are_issues() {
        let nan = numeric(0, NAN, 0, &[]);
        assert_eq!(
            decode(&nan, shape(38, 18)),
            Err(ValueIssue::cannot_hold("NaN", "a decimal column cannot hold"))
        );
        let inf = numeric(0, NEGATIVE_INFINITY, 0, &[]);
        assert!(
            matches!(decode(&inf, shape(38, 18)), Err(ValueIssue::CannotHold { value, .. }) if value == "-Infinity")
        );
        let cents = numeric(0, POSITIVE, 2, &[12, 5100]); // 12.51
        assert!(
            matches!(decode(&cents, shape(12, 1)), Err(ValueIssue::CannotHold { reason, .. }) if reason.contains("fractional"))
        );
        let wide = numeric(7, POSITIVE, 0, &[1, 0, 0, 0, 0, 0, 0, 0]); // 10^28
        assert!(
            matches!(decode(&wide, shape(38, 18)), Err(ValueIssue::CannotHold { reason, .. }) if reason.contains("decimal(38,18)"))
        );
        assert!(matches!(
            decode(&wide, shape(28, 0)),
            Err(ValueIssue::CannotHold { .. })
        ));
        assert_eq!(decode(&wide, shape(29, 0)), Ok(10i128.pow(28)));
        let huge = numeric(20, POSITIVE, 0, &[1]); // 10^80
        assert!(matches!(
            decode(&huge, shape(38, 0)),
            Err(ValueIssue::CannotHold { .. })
        ));
        assert!(matches!(decode(&[0, 1], shape(38, 0)), Err(ValueIssue::Malformed(_))));
    }
}
