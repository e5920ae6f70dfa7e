//! Format detection from content (magic bytes). File names and MIME types
//! supplied by the caller are never consulted.
use super::error::PhotoError;

/// The accepted input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
}

impl SourceFormat {
    /// Short lowercase name: `"jpeg"`, `"png"`, `"webp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::WebP => "webp",
        }
    }

    /// MIME type (`"image/jpeg"`, …), the form `PhotoRef::source_format` documents.
    pub fn mime_type(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "image/jpeg",
            SourceFormat::Png => "image/png",
            SourceFormat::WebP => "image/webp",
        }
    }
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// ISO-BMFF brands of HEVC-coded HEIF images and sequences.
const HEVC_BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
];
/// Generic HEIF brands (any codec).
const HEIF_GENERIC_BRANDS: [&[u8; 4]; 3] = [b"mif1", b"msf1", b"heif"];
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// Message for HEIC/HEIF/AVIF input.
pub(crate) const HEIF_MESSAGE: &str = "HEIC/HEIF/AVIF photos are not supported: convert the photo to \
JPEG before ingest (iOS: ImageIO CGImageDestination with UTType.jpeg, or UIImage.jpegData(compressionQuality:); \
Android: Bitmap.compress(JPEG))";

/// Message for anything that is not one of the accepted formats.
pub(crate) const UNKNOWN_MESSAGE: &str = "not a JPEG, PNG or WebP image";

/// Detects the format from the first bytes.
///
/// * JPEG: `FF D8` (SOI). Junk after SOI is the JPEG parser's business.
/// * PNG: the 8-byte signature.
/// * WebP: `RIFF` … `WEBP`.
/// * HEIF/HEIC/AVIF: an ISO-BMFF `ftyp` box at offset 4 whose major or
///   compatible brands name a HEIF or AVIF brand → [`PhotoError::UnsupportedFormat`]
///   telling the app to convert to JPEG first.
/// * GIF, BMP, TIFF and anything else → [`PhotoError::UnsupportedFormat`].
pub(crate) fn detect(bytes: &[u8]) -> Result<SourceFormat, PhotoError> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(SourceFormat::Jpeg);
    }
    if bytes.starts_with(PNG_SIGNATURE) {
        return Ok(SourceFormat::Png);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(SourceFormat::WebP);
    }
    if let Some(kind) = heif_kind(bytes) {
        return Err(PhotoError::unsupported(kind, HEIF_MESSAGE));
    }
    let detected = if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "gif"
    } else if bytes.starts_with(b"BM") {
        "bmp"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "tiff"
    } else {
        "unknown"
    };
    Err(PhotoError::unsupported(detected, UNKNOWN_MESSAGE))
}

/// `Some("heic" | "heif" | "avif")` when the bytes start with an ISO-BMFF
/// `ftyp` box naming such a brand (major brand or one of the compatible brands).
fn heif_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let box_size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    // A size of 0 means "to the end of the file"; 1 means a 64-bit size follows
    // (never used for ftyp in practice). Only brands inside the box and the data count.
    let end = match box_size {
        0 | 1 => bytes.len(),
        n => n.min(bytes.len()),
    };
    let major = bytes.get(8..12)?;
    // Major brand at 8, minor version at 12, compatible brands from 16.
    let compatible = bytes.get(16..end).unwrap_or_default();
    let brands = || std::iter::once(major).chain(compatible.chunks_exact(4));
    let any_of = |set: &[&[u8; 4]]| brands().any(|b| set.iter().any(|s| s.as_slice() == b));
    if any_of(&AVIF_BRANDS) {
        Some("avif")
    } else if any_of(&HEVC_BRANDS) {
        Some("heic")
    } else if any_of(&HEIF_GENERIC_BRANDS) {
        Some("heif")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut v = (size as u32).to_be_bytes().to_vec();
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0, 0, 0, 0]);
        for c in compatible {
            v.extend_from_slice(*c);
        }
        v.extend_from_slice(&[0, 0, 0, 8, b'm', b'e', b't', b'a']);
        v
    }

    fn detected(bytes: &[u8]) -> String {
        match detect(bytes) {
            Err(PhotoError::UnsupportedFormat { detected, .. }) => detected,
            other => panic!("expected UnsupportedFormat, got {other:?}"),
        }
    }

    #[test]
    fn accepted_formats_by_magic() {
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(SourceFormat::Jpeg));
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Ok(SourceFormat::Png)
        );
        assert_eq!(detect(b"RIFF\x10\0\0\0WEBPVP8L"), Ok(SourceFormat::WebP));
        assert_eq!(SourceFormat::WebP.as_str(), "webp");
        assert_eq!(SourceFormat::Jpeg.mime_type(), "image/jpeg");
    }

    #[test]
    fn heif_family_is_rejected_with_conversion_hint() {
        for (major, compat, want) in [
            (b"heic", vec![b"mif1"], "heic"),
            (b"heix", vec![], "heic"),
            (b"hevc", vec![], "heic"),
            (b"mif1", vec![b"heic"], "heic"),
            (b"mif1", vec![], "heif"),
            (b"msf1", vec![b"hevc"], "heic"),
            (b"heif", vec![], "heif"),
            (b"avif", vec![b"mif1", b"miaf"], "avif"),
            (b"mif1", vec![b"avif"], "avif"),
        ] {
            let bytes = ftyp(major, &compat);
            assert_eq!(detected(&bytes), want, "{:?}", std::str::from_utf8(major));
            match detect(&bytes) {
                Err(PhotoError::UnsupportedFormat { message, .. }) => {
                    assert!(message.contains("JPEG"), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
        // An MP4 is an ISO-BMFF file too, but not a HEIF image.
        assert_eq!(detected(&ftyp(b"isom", &[b"mp41"])), "unknown");
    }

    #[test]
    fn other_formats_and_junk_are_unsupported() {
        assert_eq!(detected(b"GIF89a\x01\0\x01\0"), "gif");
        assert_eq!(detected(b"BM\x36\0\0\0"), "bmp");
        assert_eq!(detected(b"II*\0\x08\0\0\0"), "tiff");
        assert_eq!(detected(b""), "unknown");
        assert_eq!(detected(b"\xFF"), "unknown");
        assert_eq!(detected(b"hello world"), "unknown");
        assert_eq!(detected(b"RIFF\0\0\0\0WAVE"), "unknown");
        // Truncated ftyp boxes never read out of bounds.
        assert_eq!(detected(b"\0\0\0\x18ftyphe"), "unknown");
        assert_eq!(detected(b"\0\0\0\x18ftypheic"), "heic");
        match detect(b"hello") {
            Err(PhotoError::UnsupportedFormat { message, .. }) => {
                assert_eq!(message, "not a JPEG, PNG or WebP image")
            }
            other => panic!("{other:?}"),
        }
    }
}
