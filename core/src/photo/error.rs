//! [`PhotoError`]: why a photo was not processed.
//!
//! Messages name the problem (format, limit, truncation), never a pixel or
//! metadata value from the file. Decoder messages are not passed through:
//! they are replaced by a fixed description of the failing stage.

/// Why [`process`](super::process) or [`read_metadata`](super::read_metadata)
/// refused a photo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    /// The bytes are not a JPEG, PNG or WebP image (detected from content,
    /// never from a file name), or use a variant of those formats that the
    /// decoder cannot read. `detected` is a short name such as `"heic"`,
    /// `"avif"`, `"gif"`, `"jpeg (12-bit)"` or `"unknown"`; `message` says
    /// what the app should do.
    #[error("unsupported image format ({detected}): {message}")]
    UnsupportedFormat { detected: String, message: String },

    /// A size limit of [`PhotoLimits`](super::PhotoLimits) was exceeded:
    /// input bytes, declared dimensions or the decoder's memory. Checked from
    /// the header before any pixel is decoded.
    #[error("image too large: {what}")]
    TooLarge { what: String },

    /// The image data ends early (or a scan breaks off), and the policy does
    /// not accept truncated images.
    #[error("the image is truncated: its data ends before the image is complete")]
    Truncated,

    /// The bytes claim to be a supported format but are corrupt.
    #[error("malformed image: {0}")]
    Malformed(String),
}

impl PhotoError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        PhotoError::Malformed(message.into())
    }

    pub(crate) fn too_large(what: impl Into<String>) -> Self {
        PhotoError::TooLarge { what: what.into() }
    }

    pub(crate) fn unsupported(detected: impl Into<String>, message: impl Into<String>) -> Self {
        PhotoError::UnsupportedFormat {
            detected: detected.into(),
            message: message.into(),
        }
    }
}
