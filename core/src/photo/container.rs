//! One view over the three container parsers: declared size (checked
//! against the limits as soon as the header is read), metadata payloads,
//! decoder memory estimate, and truncation.
use std::borrow::Cow;

use super::detect::SourceFormat;
use super::error::PhotoError;
use super::jpeg::{self, Completeness};
use super::limits::PhotoLimits;
use super::{png, webp};

/// How far to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Headers and metadata only (`read_metadata`): no size limits, no
    /// walk through JPEG entropy-coded data.
    Metadata,
    /// Everything `process` needs: size limits and truncation.
    Full,
}

#[derive(Debug, Clone)]
pub(crate) struct Container<'a> {
    pub format: SourceFormat,
    pub width: u32,
    pub height: u32,
    /// TIFF structure of the EXIF block, if any.
    pub exif: Option<Cow<'a, [u8]>>,
    /// XMP packet, if any.
    pub xmp: Option<&'a [u8]>,
    /// `Some(reason)` when the data is known to be incomplete (only
    /// determined at [`Depth::Full`] for JPEG).
    pub truncated: Option<&'static str>,
    /// Estimated peak memory of the decoder, in bytes.
    pub decode_bytes: u64,
}

/// Parses the container. At [`Depth::Full`] the declared dimensions are
/// checked against `limits` the moment they are read, then the decoder
/// memory estimate; unsupported JPEG variants are refused from the frame header.
pub(crate) fn parse<'a>(
    bytes: &'a [u8],
    format: SourceFormat,
    limits: &PhotoLimits,
    depth: Depth,
) -> Result<Container<'a>, PhotoError> {
    let check = |w: u32, h: u32| -> Result<(), PhotoError> {
        match depth {
            Depth::Full => limits.check_dimensions(w, h),
            Depth::Metadata => Ok(()),
        }
    };
    // Saturating: at `Depth::Metadata` absurd declared sizes are not refused.
    let pixels = |w: u32, h: u32| u64::from(w).saturating_mul(u64::from(h));
    let container = match format {
        SourceFormat::Jpeg => {
            let headers = jpeg::parse_headers(bytes, |frame| {
                // Size first: a bomb is reported as too large whatever its coding.
                check(frame.width, frame.height)?;
                match frame.unsupported_kind() {
                    Some(kind) if depth == Depth::Full => Err(PhotoError::unsupported(
                        kind,
                        "this kind of JPEG cannot be decoded; re-save it as a standard \
                         8-bit baseline or progressive JPEG",
                    )),
                    _ => Ok(()),
                }
            })?;
            let truncated = match depth {
                Depth::Full => match jpeg::check_complete(bytes, &headers)? {
                    Completeness::Complete => None,
                    Completeness::Truncated(why) => Some(why),
                },
                Depth::Metadata => None,
            };
            let f = &headers.frame;
            let channels = if f.components.len() == 1 { 1 } else { 3 };
            Container {
                format,
                width: f.width,
                height: f.height,
                exif: headers.exif.map(Cow::Borrowed),
                xmp: headers.xmp,
                truncated,
                // Output + coefficient buffers + the decoder's copy of the input.
                decode_bytes: pixels(f.width, f.height)
                    .saturating_mul(channels)
                    .saturating_add(f.coefficient_bytes())
                    .saturating_add(bytes.len() as u64),
            }
        }
        SourceFormat::Png => {
            let info = png::parse(bytes, check)?;
            Container {
                format,
                width: info.width,
                height: info.height,
                decode_bytes: pixels(info.width, info.height)
                    .saturating_mul(info.decoded_bytes_per_pixel()),
                exif: info.exif,
                xmp: info.xmp,
                truncated: (!info.complete).then_some("the PNG ends before its IEND chunk"),
            }
        }
        SourceFormat::WebP => {
            let info = webp::parse(bytes, check)?;
            // RGBA output plus the decoder's working buffers (ARGB for
            // lossless, YUV for lossy).
            let per_pixel = if info.lossless { 8 } else { 6 };
            Container {
                format,
                width: info.width,
                height: info.height,
                decode_bytes: pixels(info.width, info.height).saturating_mul(per_pixel),
                exif: info.exif.map(Cow::Borrowed),
                xmp: info.xmp,
                truncated: (!info.complete)
                    .then_some("the WebP data is shorter than its RIFF header says"),
            }
        }
    };
    if depth == Depth::Full {
        limits.check_alloc(container.decode_bytes)?;
    }
    Ok(container)
}
