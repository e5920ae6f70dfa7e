//! 個人番号 (My Number): parsing, check digit, masking.
//!
//! A My Number is specific personal information (特定個人情報) under the My
//! Number Act. This type is deliberately *not* part of any shared document:
//! it implements neither `Serialize` nor `Reconcile`, so it cannot end up in
//! an Automerge document, JSON export or sync payload by accident. The tax
//! form only stores the flag `has_my_number`; the storage layer keeps the
//! number separately, using [`MyNumber::expose`].
//!
//! The digits are zeroized when the value is dropped, `Debug` prints
//! `MyNumber(****)`, and errors never contain the input.
//!
//! Check digit (検査用数字, 行政手続における特定の個人を識別するための番号の
//! 利用等に関する法律施行令 第8条): with `P_n` the n-th digit counted from the
//! right excluding the check digit (n = 1..=11) and `Q_n = n + 1` for
//! 1 ≤ n ≤ 6, `Q_n = n − 5` for 7 ≤ n ≤ 11: `r = Σ P_n·Q_n mod 11`,
//! check = 0 if r ≤ 1, else 11 − r.
use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::validation::{FieldError, FieldErrorCode};

const FIELD: &str = "my_number";
const LEN: usize = 12;

/// A validated 12-digit My Number, zeroized on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MyNumber(String);

impl MyNumber {
    /// Parses user input.
    ///
    /// Accepts ASCII and full-width digits (０–９); spaces (including the
    /// ideographic space) and hyphens/dashes are ignored as separators.
    /// Requires exactly 12 digits and a matching check digit.
    ///
    /// Errors use field `my_number` with code `InvalidFormat` or
    /// `BadCheckDigit`, and never contain the input.
    pub fn parse(input: &str) -> Result<MyNumber, FieldError> {
        // Capacity is never exceeded, so the buffer is never reallocated
        // (which would leave an un-zeroized copy behind).
        let mut digits = Zeroizing::new(String::with_capacity(LEN));
        for c in input.chars() {
            let d = match ascii_digit(c) {
                Some(d) => d,
                None if is_separator(c) => continue,
                None => {
                    return Err(invalid(
                        "My Number may contain only digits, spaces and hyphens",
                    ))
                }
            };
            if digits.len() == LEN {
                return Err(invalid("My Number must have exactly 12 digits"));
            }
            digits.push(char::from(d));
        }
        if digits.len() != LEN {
            return Err(invalid("My Number must have exactly 12 digits"));
        }
        let bytes = digits.as_bytes();
        if check_digit(&bytes[..LEN - 1]) != bytes[LEN - 1] - b'0' {
            return Err(FieldError::new(
                FIELD,
                FieldErrorCode::BadCheckDigit,
                "My Number check digit does not match",
            ));
        }
        Ok(MyNumber(std::mem::take(&mut *digits)))
    }

    /// Only the last four digits, e.g. `•••• •••• 9018`, for display.
    pub fn masked(&self) -> String {
        format!("•••• •••• {}", self.0.get(LEN - 4..).unwrap_or_default())
    }

    /// The 12 ASCII digits. Only for the storage layer, which keeps them
    /// encrypted outside shared documents.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MyNumber(****)")
    }
}

/// `true` if `text` contains something that looks like a valid My Number:
/// 12 digits written contiguously or as three groups of four joined by single
/// separators (`1234 5678 9018`, `１２３４－５６７８－９０１８`), not touching
/// other digits, and with a matching check digit.
///
/// Used to keep My Numbers out of free-text fields of shared documents.
pub(crate) fn contains_my_number(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if ascii_digit(chars[i]).is_none() {
            i += 1;
            continue;
        }
        // A chain: digit runs joined by exactly one separator each.
        let mut digits = Zeroizing::new(Vec::with_capacity(LEN));
        let mut run_lengths = Vec::new();
        loop {
            let start = i;
            while let Some(d) = chars.get(i).copied().and_then(ascii_digit) {
                digits.push(d);
                i += 1;
            }
            run_lengths.push(i - start);
            let joined = chars.get(i).is_some_and(|c| is_separator(*c))
                && chars.get(i + 1).copied().and_then(ascii_digit).is_some();
            if !joined {
                break;
            }
            i += 1;
        }
        let shape_ok = run_lengths == [LEN] || run_lengths == [4, 4, 4];
        if shape_ok && check_digit(&digits[..LEN - 1]) == digits[LEN - 1] - b'0' {
            return true;
        }
    }
    false
}

/// ASCII or full-width digit as an ASCII byte.
fn ascii_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8),
        '０'..='９' => Some(b'0' + (u32::from(c) - u32::from('０')) as u8),
        _ => None,
    }
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\u{3000}' // ideographic space
            | '-'
            | '\u{2010}' // hyphen
            | '\u{2011}' // non-breaking hyphen
            | '\u{2012}' // figure dash
            | '\u{2013}' // en dash
            | '\u{2212}' // minus sign
            | '\u{30FC}' // katakana prolonged sound mark, often typed for a dash
            | '\u{FF0D}' // full-width hyphen-minus
    )
}

fn invalid(message: &str) -> FieldError {
    FieldError::new(FIELD, FieldErrorCode::InvalidFormat, message)
}

/// Check digit for the first 11 ASCII digits (most significant first).
fn check_digit(first11: &[u8]) -> u8 {
    let sum: u32 = first11
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(b - b'0') * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        (11 - r) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends the computed check digit to 11 digits.
    fn complete(first11: &str) -> String {
        format!("{first11}{}", check_digit(first11.as_bytes()))
    }

    #[test]
    fn known_valid_example() {
        let n = MyNumber::parse("123456789018").unwrap();
        assert_eq!(n.expose(), "123456789018");
        assert_eq!(check_digit(b"12345678901"), 8);
    }

    #[test]
    fn computed_numbers_validate_and_any_changed_digit_fails() {
        for first11 in [
            "00000000000",
            "98765432109",
            "31415926535",
            "27182818284",
            "11111111111",
        ] {
            let full = complete(first11);
            assert!(MyNumber::parse(&full).is_ok(), "{full}");
            let last = full.as_bytes()[11] - b'0';
            let wrong = format!("{first11}{}", (last + 1) % 10);
            let err = MyNumber::parse(&wrong).unwrap_err();
            assert_eq!(err.field, "my_number");
            assert_eq!(err.code, FieldErrorCode::BadCheckDigit);
        }
        // Remainders 0 and 1 both give check digit 0.
        assert_eq!(check_digit(b"00000000000"), 0);
        // Σ = 1·2 = 2 → r = 2 → check 9.
        assert_eq!(check_digit(b"00000000001"), 9);
        // Σ = 6·2 = 12 → r = 1 → check 0.
        assert_eq!(check_digit(b"00000000006"), 0);
        // P_6 = 1 (weight 7), P_1 = 1 (weight 2): Σ = 9 → check 2.
        assert_eq!(check_digit(b"00000100001"), 2);
        // P_7 = 1 (weight 2): Σ = 2 → check 9.
        assert_eq!(check_digit(b"00001000000"), 9);
    }

    #[test]
    fn single_digit_typo_is_detected() {
        // 123456789018 with the first digit changed.
        let err = MyNumber::parse("923456789018").unwrap_err();
        assert_eq!(err.code, FieldErrorCode::BadCheckDigit);
        assert!(!err.message.contains("9234"));
    }

    #[test]
    fn full_width_digits_and_separators() {
        let n = MyNumber::parse("１２３４－５６７８－９０１８").unwrap();
        assert_eq!(n.expose(), "123456789018");
        let n = MyNumber::parse(" 1234 5678\u{3000}9018 ").unwrap();
        assert_eq!(n.expose(), "123456789018");
        let n = MyNumber::parse("1234-5678-9018").unwrap();
        assert_eq!(n.expose(), "123456789018");
    }

    #[test]
    fn wrong_length_or_characters() {
        for bad in [
            "",
            "12345678901",
            "1234567890180",
            "12345678901a",
            "1234/5678/9018",
        ] {
            let err = MyNumber::parse(bad).unwrap_err();
            assert_eq!(err.field, "my_number");
            assert_eq!(err.code, FieldErrorCode::InvalidFormat, "{bad}");
            assert!(!err.message.contains("1234"));
        }
    }

    #[test]
    fn detects_my_number_in_free_text() {
        assert!(contains_my_number("番号は123456789018です"));
        assert!(contains_my_number("番号 1234 5678 9018。"));
        assert!(contains_my_number("１２３４－５６７８－９０１８"));
        // Wrong check digit, other shapes, or part of a longer number: not flagged.
        assert!(!contains_my_number("123456789017"));
        assert!(!contains_my_number("電話 090-1234-5678、2025年6月1日"));
        assert!(!contains_my_number("0123456789018"));
        assert!(!contains_my_number("1234-5678-9018-0000"));
        assert!(!contains_my_number("12-3456-789018"));
        assert!(!contains_my_number(""));
    }

    #[test]
    fn masked_and_debug_hide_digits() {
        let n = MyNumber::parse("123456789018").unwrap();
        assert_eq!(n.masked(), "•••• •••• 9018");
        assert_eq!(format!("{n:?}"), "MyNumber(****)");
        assert_eq!(format!("{:?}", Some(n.clone())), "Some(MyNumber(****))");
    }
}
