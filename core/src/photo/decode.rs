//! Decoding to 8-bit grey or RGB, under limits, with one pixel buffer.
//!
//! The decoder writes straight into a buffer we allocate fallibly
//! (`try_reserve_exact`), so an allocation failure is an error, not an
//! abort. Alpha is composited on white and 16-bit samples are reduced to
//! 8 bits *in place*, so no second full-size copy ever exists.
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{ColorType, ImageDecoder, ImageError};

use super::container::Container;
use super::detect::SourceFormat;
use super::error::PhotoError;
use super::limits::PhotoLimits;

/// Channels of an 8-bit image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channels {
    Gray = 1,
    Rgb = 3,
}

impl Channels {
    pub fn count(self) -> usize {
        self as usize
    }
}

/// An 8-bit image, rows top to bottom, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pixels {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub channels: Channels,
}

impl Pixels {
    /// A zeroed image; `None` if the size overflows or memory is short.
    pub fn try_new(width: u32, height: u32, channels: Channels) -> Option<Self> {
        let len = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(channels.count())?;
        Some(Self {
            data: try_zeroed(len)?,
            width,
            height,
            channels,
        })
    }
}

/// A zero-filled buffer, or `None` when the allocation fails.
pub(crate) fn try_zeroed(len: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize(len, 0);
    Some(v)
}

fn map_image_error(format: SourceFormat, e: ImageError) -> PhotoError {
    match e {
        ImageError::Limits(_) => PhotoError::too_large("the decoder's memory or size limit"),
        ImageError::Unsupported(_) => PhotoError::unsupported(
            format!("{format} (unsupported variant)"),
            format!("this {format} variant cannot be decoded; re-save it as a standard {format}"),
        ),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        _ => PhotoError::malformed(format!("the {format} image data could not be decoded")),
    }
}

/// Decodes `bytes` (already checked by the container parser against the
/// limits) into 8-bit grey or RGB.
pub(crate) fn decode(
    bytes: &[u8],
    container: &Container<'_>,
    limits: &PhotoLimits,
) -> Result<Pixels, PhotoError> {
    let format = container.format;
    // Defence in depth: a panic inside a third-party decoder on hostile
    // input becomes an error, never a crash of the app.
    let expected = (container.width, container.height);
    catch_unwind(AssertUnwindSafe(|| {
        decode_inner(bytes, format, limits, expected)
    }))
    .unwrap_or_else(|_| {
        Err(PhotoError::malformed(format!(
            "the {format} decoder failed on this data"
        )))
    })
}

fn decode_inner(
    bytes: &[u8],
    format: SourceFormat,
    limits: &PhotoLimits,
    expected: (u32, u32),
) -> Result<Pixels, PhotoError> {
    let err = |e| map_image_error(format, e);
    let cursor = Cursor::new(bytes);
    match format {
        SourceFormat::Jpeg => read(
            JpegDecoder::new(cursor).map_err(err)?,
            format,
            limits,
            expected,
        ),
        SourceFormat::Png => read(
            PngDecoder::with_limits(cursor, limits.to_image_limits()).map_err(err)?,
            format,
            limits,
            expected,
        ),
        SourceFormat::WebP => read(
            WebPDecoder::new(cursor).map_err(err)?,
            format,
            limits,
            expected,
        ),
    }
}

fn read(
    mut decoder: impl ImageDecoder,
    format: SourceFormat,
    limits: &PhotoLimits,
    expected: (u32, u32),
) -> Result<Pixels, PhotoError> {
    let err = |e| map_image_error(format, e);
    let (width, height) = decoder.dimensions();
    // The decoder's own reading of the header must pass the limits too, and
    // agree with ours (the limits were checked against ours).
    limits.check_dimensions(width, height)?;
    if (width, height) != expected {
        return Err(PhotoError::malformed(format!(
            "the {format} headers disagree about the image size"
        )));
    }
    decoder.set_limits(limits.to_image_limits()).map_err(err)?;
    let color = decoder.color_type();
    let total = decoder.total_bytes();
    limits.check_alloc(total)?;
    let total = usize::try_from(total).map_err(|_| PhotoError::too_large("decoded size"))?;
    let mut buf = try_zeroed(total)
        .ok_or_else(|| PhotoError::too_large("not enough memory to decode the image"))?;
    decoder.read_image(&mut buf).map_err(err)?;
    to_8bit(buf, width, height, color)
}

/// Composites `c` over white with alpha `a` (both 0–255).
#[inline]
fn over_white8(c: u32, a: u32) -> u8 {
    ((c * a + 255 * (255 - a) + 127) / 255) as u8
}

/// Composites a 16-bit `c` over white with 16-bit alpha `a`, then reduces to 8 bits.
#[inline]
fn over_white16(c: u32, a: u32) -> u8 {
    let (c, a) = (u64::from(c), u64::from(a));
    let v = (c * a + 65_535 * (65_535 - a) + 32_767) / 65_535;
    to8(v as u32)
}

#[inline]
fn to8(v16: u32) -> u8 {
    ((v16 * 255 + 32_767) / 65_535) as u8
}

/// Reduces any decoded layout to 8-bit grey or RGB in place: pixel `i` is
/// read completely before output pixel `i` (which lies at or before it) is
/// written, so the buffer can be reused.
pub(crate) fn to_8bit(
    mut buf: Vec<u8>,
    width: u32,
    height: u32,
    color: ColorType,
) -> Result<Pixels, PhotoError> {
    let n = (width as usize)
        .checked_mul(height as usize)
        .ok_or_else(|| PhotoError::too_large("decoded size"))?;
    let (in_bpp, channels) = match color {
        ColorType::L8 => (1, Channels::Gray),
        ColorType::Rgb8 => (3, Channels::Rgb),
        ColorType::La8 => (2, Channels::Gray),
        ColorType::Rgba8 => (4, Channels::Rgb),
        ColorType::L16 => (2, Channels::Gray),
        ColorType::La16 => (4, Channels::Gray),
        ColorType::Rgb16 => (6, Channels::Rgb),
        ColorType::Rgba16 => (8, Channels::Rgb),
        _ => {
            return Err(PhotoError::malformed(
                "the image has an unsupported pixel format",
            ))
        }
    };
    if n.checked_mul(in_bpp)
        .is_none_or(|needed| buf.len() < needed)
    {
        return Err(PhotoError::malformed(
            "the decoder returned too little data",
        ));
    }
    let u16_at = |b: &[u8], i: usize| u32::from(u16::from_ne_bytes([b[i], b[i + 1]]));
    let out_bpp = channels.count();
    if in_bpp != out_bpp {
        for i in 0..n {
            let src = i * in_bpp;
            let dst = i * out_bpp;
            match color {
                ColorType::La8 => {
                    let a = u32::from(buf[src + 1]);
                    buf[dst] = over_white8(u32::from(buf[src]), a);
                }
                ColorType::Rgba8 => {
                    let a = u32::from(buf[src + 3]);
                    let (r, g, b) = (buf[src], buf[src + 1], buf[src + 2]);
                    buf[dst] = over_white8(u32::from(r), a);
                    buf[dst + 1] = over_white8(u32::from(g), a);
                    buf[dst + 2] = over_white8(u32::from(b), a);
                }
                ColorType::L16 => buf[dst] = to8(u16_at(&buf, src)),
                ColorType::La16 => {
                    let a = u16_at(&buf, src + 2);
                    buf[dst] = over_white16(u16_at(&buf, src), a);
                }
                ColorType::Rgb16 => {
                    let (r, g, b) = (
                        u16_at(&buf, src),
                        u16_at(&buf, src + 2),
                        u16_at(&buf, src + 4),
                    );
                    buf[dst] = to8(r);
                    buf[dst + 1] = to8(g);
                    buf[dst + 2] = to8(b);
                }
                ColorType::Rgba16 => {
                    let a = u16_at(&buf, src + 6);
                    let (r, g, b) = (
                        u16_at(&buf, src),
                        u16_at(&buf, src + 2),
                        u16_at(&buf, src + 4),
                    );
                    buf[dst] = over_white16(r, a);
                    buf[dst + 1] = over_white16(g, a);
                    buf[dst + 2] = over_white16(b, a);
                }
                _ => {}
            }
        }
        buf.truncate(n * out_bpp);
        buf.shrink_to_fit();
    }
    Ok(Pixels {
        data: buf,
        width,
        height,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_is_composited_on_white_in_place() {
        let rgba = vec![
            255, 0, 0, 255, // opaque red
            0, 0, 0, 0, // transparent black → white
            0, 0, 0, 128, // half black → mid grey
        ];
        let p = to_8bit(rgba, 3, 1, ColorType::Rgba8).expect("convert");
        assert_eq!(p.channels, Channels::Rgb);
        assert_eq!(p.data, vec![255, 0, 0, 255, 255, 255, 127, 127, 127]);

        let la = vec![10, 255, 10, 0];
        let p = to_8bit(la, 2, 1, ColorType::La8).expect("convert");
        assert_eq!((p.channels, p.data), (Channels::Gray, vec![10, 255]));
    }

    #[test]
    fn sixteen_bit_is_reduced() {
        let px = |v: u16| v.to_ne_bytes();
        let mut rgb16 = Vec::new();
        for v in [0u16, 32_896, 65_535] {
            rgb16.extend_from_slice(&px(v));
        }
        let p = to_8bit(rgb16, 1, 1, ColorType::Rgb16).expect("convert");
        assert_eq!(p.data, vec![0, 128, 255]);

        let mut rgba16 = Vec::new();
        for v in [0u16, 0, 0, 0] {
            rgba16.extend_from_slice(&px(v));
        }
        let p = to_8bit(rgba16, 1, 1, ColorType::Rgba16).expect("convert");
        assert_eq!(p.data, vec![255, 255, 255]);

        let mut la16 = Vec::new();
        for v in [65_535u16, 65_535] {
            la16.extend_from_slice(&px(v));
        }
        let p = to_8bit(la16, 1, 1, ColorType::La16).expect("convert");
        assert_eq!((p.channels, p.data), (Channels::Gray, vec![255]));
    }

    #[test]
    fn short_buffers_and_odd_types_are_errors() {
        assert!(to_8bit(vec![0; 5], 2, 1, ColorType::Rgb8).is_err());
        assert!(to_8bit(vec![0; 16], 1, 1, ColorType::Rgba32F).is_err());
        assert!(Pixels::try_new(u32::MAX, u32::MAX, Channels::Rgb).is_none());
    }
}
