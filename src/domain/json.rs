//! JSON that goes into and comes out of Postgres `jsonb` (user and token metadata).
//!
//! Postgres refuses the NUL character in `jsonb`, and it writes numbers back in plain decimal notation,
//! which a JSON reader may not take back: `1.7976931348623157e308` returns as 309 digits that overflow
//! serde_json's reader. So a client value is checked before it is stored ([`check_storable`]), and a stored
//! value is read by a reader that never fails ([`read_stored`]): an account holding such a value from before
//! still signs in.
use serde_json::{Number, Value};

use crate::error::AuthError;

/// Refuses a value that cannot be stored and read back as it is: a NUL character in a key or a string, or
/// a number whose decimal expansion does not read back to the same number.
pub fn check_storable(field: &str, value: &Value) -> Result<(), AuthError> {
    let refuse = |what: &str| Err(AuthError::InvalidRequest(format!("{field} {what}")));
    match value {
        Value::String(text) if text.contains('\0') => refuse("must not contain the NUL character"),
        Value::Number(number) if !number_round_trips(number) => {
            refuse("holds a number that cannot be stored exactly; send it as a string")
        }
        Value::Array(items) => items.iter().try_for_each(|item| check_storable(field, item)),
        Value::Object(entries) => entries.iter().try_for_each(|(key, item)| {
            if key.contains('\0') { refuse("must not contain the NUL character") } else { check_storable(field, item) }
        }),
        _ => Ok(()),
    }
}

/// Whether the plain decimal form Postgres writes back reads as the same number.
fn number_round_trips(number: &Number) -> bool {
    if number.is_i64() || number.is_u64() {
        return true;
    }
    let Some(value) = number.as_f64() else { return false };
    let plain = plain_decimal(&number.to_string());
    serde_json::from_str::<Value>(&plain).ok().and_then(|read| read.as_f64()) == Some(value)
}

/// `1.5e3` → `1500`, `-2e-3` → `-0.002`: a JSON number without an exponent.
fn plain_decimal(number: &str) -> String {
    let (sign, unsigned) = number.strip_prefix('-').map_or(("", number), |rest| ("-", rest));
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap_or(0)),
        None => return number.to_string(),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i64 + exponent;
    let plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    let trimmed = plain.trim_start_matches('0');
    let plain =
        if trimmed.is_empty() || trimmed.starts_with('.') { format!("0{trimmed}") } else { trimmed.to_string() };
    format!("{sign}{plain}")
}

/// Reads stored JSON text, never failing: numbers a JSON reader refuses are read as the nearest double, and
/// text that is not JSON at all becomes `null` (logged).
pub fn read_stored(text: &[u8]) -> Value {
    if let Ok(value) = serde_json::from_slice(text) {
        return value;
    }
    let text = String::from_utf8_lossy(text);
    match serde_json::from_str(&with_numbers_as_doubles(&text)) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(%error, "stored JSON is unreadable; it is read as null");
            Value::Null
        }
    }
}

/// Rewrites every number outside strings as the double nearest to it (`null` when it has none).
fn with_numbers_as_doubles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '-' || c.is_ascii_digit() {
            let mut token = c.to_string();
            while let Some(&next) =
                chars.peek().filter(|n| n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-'))
            {
                token.push(next);
                chars.next();
            }
            let double = token.parse::<f64>().ok().and_then(Number::from_f64);
            out.push_str(&double.map_or_else(|| "null".to_string(), |n| n.to_string()));
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_characters_and_numbers_that_do_not_round_trip_are_refused() {
        assert!(check_storable("metadata", &json!({"a": "\u{0}"})).is_err());
        assert!(check_storable("metadata", &json!({"a\u{0}": 1})).is_err());
        assert!(check_storable("metadata", &json!({"a": [{"b": "x\u{0}y"}]})).is_err());
        let max: Value = serde_json::from_str(r#"{"n": 1.7976931348623157e308}"#).unwrap_or_default();
        assert!(check_storable("metadata", &max).is_err());
        for fine in [json!({"n": 1.5, "m": -2e-7, "big": 1e300, "i": i64::MIN, "u": u64::MAX, "s": "text"}), json!([])]
        {
            assert!(check_storable("metadata", &fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn plain_decimals_expand_exponents() {
        assert_eq!(plain_decimal("1.5e3"), "1500");
        assert_eq!(plain_decimal("-2e-3"), "-0.002");
        assert_eq!(plain_decimal("1.25e1"), "12.5");
        assert_eq!(plain_decimal("3.5"), "3.5");
        assert_eq!(plain_decimal("1e0"), "1");
    }

    #[test]
    fn stored_values_always_read() {
        let digits = format!("{{\"n\": 17976931348623157{}, \"s\": \"1e999 stays\"}}", "0".repeat(292));
        let read = read_stored(digits.as_bytes());
        assert_eq!(read["n"].as_f64(), Some(f64::MAX));
        assert_eq!(read["s"], "1e999 stays");
        assert_eq!(read_stored(br#"{"a": [1, -2.5, "x\"1"]}"#), json!({"a": [1, -2.5, "x\"1"]}));
        assert_eq!(read_stored(b"not json"), Value::Null);
    }
}
