//! Size limits, checked from the header before any pixel is decoded, and
//! handed to the decoder as `image::Limits` as a second line of defence.
use super::error::PhotoError;

const MIB: u64 = 1024 * 1024;

/// Limits on untrusted input. Every photo is checked against them from its
/// header (declared dimensions, estimated decoder memory) before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoLimits {
    /// Largest accepted input, in bytes. Default 40 MiB.
    pub max_input_bytes: usize,
    /// Largest declared width × height. Default 50 000 000 (a 48 MP phone photo fits).
    pub max_pixels: u64,
    /// Largest declared width or height. Default 16 384.
    pub max_dimension: u32,
    /// Largest memory the decoder may need (decoded pixels plus, for
    /// progressive JPEG, its coefficient buffers). Default 200 MiB.
    pub max_decode_alloc: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_input_bytes: 40 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_dimension: 16_384,
            max_decode_alloc: 200 * MIB,
        }
    }
}

impl PhotoLimits {
    pub(crate) fn check_input_len(&self, len: usize) -> Result<(), PhotoError> {
        if len > self.max_input_bytes {
            return Err(PhotoError::too_large(format!(
                "the input is larger than the {} limit",
                human_bytes(self.max_input_bytes as u64)
            )));
        }
        Ok(())
    }

    /// Declared dimensions: zero is malformed; over a limit is too large.
    pub(crate) fn check_dimensions(&self, width: u32, height: u32) -> Result<(), PhotoError> {
        if width == 0 || height == 0 {
            return Err(PhotoError::malformed(
                "the declared width or height is zero",
            ));
        }
        if width > self.max_dimension || height > self.max_dimension {
            return Err(PhotoError::too_large(format!(
                "declared size {width}x{height} exceeds the {}-pixel edge limit",
                self.max_dimension
            )));
        }
        if u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(PhotoError::too_large(format!(
                "declared size {width}x{height} exceeds the {}-pixel limit",
                self.max_pixels
            )));
        }
        Ok(())
    }

    /// Estimated decoder memory in bytes.
    pub(crate) fn check_alloc(&self, bytes: u64) -> Result<(), PhotoError> {
        if bytes > self.max_decode_alloc {
            return Err(PhotoError::too_large(format!(
                "decoding would need about {}, over the {} limit",
                human_bytes(bytes),
                human_bytes(self.max_decode_alloc)
            )));
        }
        Ok(())
    }

    /// The same limits for the `image` crate's decoders.
    pub(crate) fn to_image_limits(self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_dimension);
        limits.max_image_height = Some(self.max_dimension);
        limits.max_alloc = Some(self.max_decode_alloc);
        limits
    }
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes.div_ceil(MIB))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let l = PhotoLimits::default();
        assert_eq!(l.max_input_bytes, 40 << 20);
        assert_eq!(l.max_pixels, 50_000_000);
        assert_eq!(l.max_dimension, 16_384);
        assert_eq!(l.max_decode_alloc, 200 << 20);
    }

    #[test]
    fn dimension_rules() {
        let l = PhotoLimits::default();
        assert!(l.check_dimensions(4032, 3024).is_ok());
        assert!(l.check_dimensions(8000, 6000).is_ok()); // 48 MP
        assert!(matches!(
            l.check_dimensions(65535, 65535),
            Err(PhotoError::TooLarge { .. })
        ));
        assert!(matches!(
            l.check_dimensions(16_384, 16_384),
            Err(PhotoError::TooLarge { .. })
        ));
        assert!(matches!(
            l.check_dimensions(3, 62_728),
            Err(PhotoError::TooLarge { .. })
        ));
        assert!(matches!(
            l.check_dimensions(3360, 0),
            Err(PhotoError::Malformed(_))
        ));
        assert!(l.check_input_len(40 << 20).is_ok());
        assert!(l.check_input_len((40 << 20) + 1).is_err());
        assert!(l.check_alloc(200 << 20).is_ok());
        assert!(l.check_alloc((200 << 20) + 1).is_err());
        let il = l.to_image_limits();
        assert_eq!(il.max_image_width, Some(16_384));
        assert_eq!(il.max_alloc, Some(200 << 20));
    }
}
