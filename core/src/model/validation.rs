//! Field-level validation results (入力チェック).
//!
//! Validation never stops at the first problem: every rule that fails adds a
//! [`FieldError`] to a [`ValidationErrors`] list so a form can highlight all
//! offending fields at once.
//!
//! Paths are dotted and indexed from the document root, e.g.
//! `taxpayer.birth_date` or `medical_expenses[2].reimbursed_yen`.
//!
//! **Privacy rule:** messages name the field and the rule only. They never
//! contain the field's value, because values are often personal data (names,
//! birth dates, My Number) and error texts end up in logs and crash reports.
//!
//! This module also holds [`ParseError`], the error returned by the model's
//! string parsers (timestamps, dates, ids, enum names); it follows the same
//! rule and never echoes its input.
use std::fmt;

use serde::{Deserialize, Serialize};

/// Machine-readable reason a field failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// A value must be present (or, for a flag, must be set).
    Required,
    /// The value lies outside the allowed range.
    OutOfRange,
    /// The value is negative where only zero or positive values make sense.
    Negative,
    /// The check digit (検査数字 / チェックデジット) does not match.
    BadCheckDigit,
    /// The value does not have the expected shape (digits, length, syntax).
    InvalidFormat,
    /// The value is not accepted at all (for example secrets that must never be stored).
    NotAllowed,
    /// The value contradicts another field.
    Inconsistent,
}

impl FieldErrorCode {
    /// The snake_case name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldErrorCode::Required => "required",
            FieldErrorCode::OutOfRange => "out_of_range",
            FieldErrorCode::Negative => "negative",
            FieldErrorCode::BadCheckDigit => "bad_check_digit",
            FieldErrorCode::InvalidFormat => "invalid_format",
            FieldErrorCode::NotAllowed => "not_allowed",
            FieldErrorCode::Inconsistent => "inconsistent",
        }
    }
}

impl fmt::Display for FieldErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed rule on one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Dotted, indexed path from the document root, e.g. `medical_expenses[2].amount_yen`.
    pub field: String,
    /// Machine-readable reason.
    pub code: FieldErrorCode,
    /// English explanation of the rule. Never contains the field's value.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: FieldErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}: {})", self.field, self.code, self.message)
    }
}

impl std::error::Error for FieldError {}

/// All validation failures of a document (empty = valid).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one failed rule.
    pub fn push(
        &mut self,
        field: impl Into<String>,
        code: FieldErrorCode,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// Records an already built [`FieldError`].
    pub fn push_error(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// `true` when no rule failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of failed rules.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The recorded errors in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// `true` if an error with this exact path and code was recorded.
    pub fn contains(&self, field: &str, code: FieldErrorCode) -> bool {
        self.0.iter().any(|e| e.field == field && e.code == code)
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => return f.write_str("no invalid fields"),
            1 => f.write_str("1 invalid field: ")?,
            n => write!(f, "{n} invalid fields: ")?,
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Extend<FieldError> for ValidationErrors {
    fn extend<T: IntoIterator<Item = FieldError>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

/// A string could not be parsed into a model value.
///
/// Names only what was expected; the rejected input is never included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("not an RFC 3339 timestamp")]
    Timestamp,
    #[error("not an ISO 8601 calendar date (YYYY-MM-DD)")]
    Date,
    #[error("not a UUID")]
    DocumentId,
    #[error("not a known document kind")]
    DocumentKind,
    #[error("not a known document status")]
    Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_field() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.to_string(), "no invalid fields");
        errors.push(
            "taxpayer.birth_date",
            FieldErrorCode::Required,
            "birth date is required",
        );
        assert_eq!(
            errors.to_string(),
            "1 invalid field: taxpayer.birth_date (required: birth date is required)"
        );
        errors.push(
            "medical_expenses[2].reimbursed_yen",
            FieldErrorCode::Inconsistent,
            "reimbursement exceeds the amount paid",
        );
        assert_eq!(
            errors.to_string(),
            "2 invalid fields: taxpayer.birth_date (required: birth date is required); \
             medical_expenses[2].reimbursed_yen (inconsistent: reimbursement exceeds the amount paid)"
        );
        assert!(errors.contains("taxpayer.birth_date", FieldErrorCode::Required));
        assert!(!errors.contains("taxpayer.birth_date", FieldErrorCode::OutOfRange));
    }

    #[test]
    fn into_result() {
        assert_eq!(ValidationErrors::new().into_result(), Ok(()));
        let mut errors = ValidationErrors::new();
        errors.push("x", FieldErrorCode::NotAllowed, "not allowed");
        assert!(errors.clone().into_result().is_err());
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn serde_codes_are_snake_case() {
        let e = FieldError::new("a.b", FieldErrorCode::BadCheckDigit, "check digit mismatch");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"field":"a.b","code":"bad_check_digit","message":"check digit mismatch"}"#
        );
        let back: FieldError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
    }
}
