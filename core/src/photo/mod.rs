//! Photo processing: untrusted camera/phone images in, clean display and
//! thumbnail JPEGs plus filtered metadata out. Pure functions: no storage,
//! no encryption (the vault seals the outputs).
//!
//! [`process`] runs, in order:
//! 1. **Input size** against [`PhotoLimits::max_input_bytes`].
//! 2. **Format from content** ([`SourceFormat`]): JPEG, PNG or WebP. HEIC/HEIF/AVIF,
//!    GIF, BMP and anything else → [`PhotoError::UnsupportedFormat`] (HEIC with a
//!    hint to convert to JPEG on the device first).
//! 3. **Container walk** without decoding: declared dimensions are checked
//!    against the limits the moment the header is read (bombs are refused
//!    before any allocation), EXIF/XMP payloads are located, and truncation
//!    is detected (JPEG: marker structure, restart markers and EOI; PNG: IEND;
//!    WebP: RIFF size).
//! 4. **Truncated** → [`PhotoError::Truncated`], unless
//!    [`PhotoPolicy::accept_truncated`] (then flagged `truncated`).
//! 5. **Metadata** ([`PhotoMetadata`]): orientation, capture time, GPS,
//!    filtered by the policy (see `docs/photos.md`).
//! 6. **Decode** to 8-bit RGB or grey under `image::Limits`, alpha composited
//!    on white, one pixel buffer.
//! 7. **Resize** to the display size (Lanczos3), free the full-size buffer,
//!    resize the display image to the thumbnail, **then** apply the EXIF
//!    orientation to both (rotating small images is far cheaper).
//! 8. **Encode** both as baseline JPEG: a plain JFIF header and pixels, no
//!    metadata segment of any kind.
//!
//! Panics inside third-party decoders/parsers are caught and reported as
//! [`PhotoError::Malformed`] (defence in depth on hostile input).
mod capture_time;
mod container;
mod decode;
mod detect;
mod encode;
mod error;
mod gps;
mod jpeg;
mod limits;
mod metadata;
mod orient;
mod png;
mod policy;
mod resize;
mod webp;

use std::time::{Duration, Instant};

use chrono::Utc;

pub use detect::SourceFormat;
pub use error::PhotoError;
pub use jpeg::metadata_segments;
pub use limits::PhotoLimits;
pub use metadata::PhotoMetadata;
pub use policy::PhotoPolicy;

use container::Depth;

/// Flag added when a truncated image was processed under `accept_truncated`.
pub const FLAG_TRUNCATED: &str = "truncated";
/// Flag added when the display image is smaller than the source.
pub const FLAG_DOWNSCALED: &str = "downscaled";

/// The result of [`process`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedPhoto {
    pub source_format: SourceFormat,
    /// Size of the source as stored (before orientation).
    pub source_width: u32,
    pub source_height: u32,
    /// Display JPEG: long edge ≤ `display_long_edge`, orientation applied.
    pub display_jpeg: Vec<u8>,
    pub display_width: u32,
    pub display_height: u32,
    /// Thumbnail JPEG: long edge ≤ `thumbnail_long_edge`, orientation applied.
    pub thumbnail_jpeg: Vec<u8>,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    /// Already filtered by the policy.
    pub metadata: PhotoMetadata,
}

/// Wall time of each stage of one [`process_timed`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimings {
    /// Detection, container walk (limits, truncation) and metadata.
    pub parse: Duration,
    /// Decoding to 8-bit pixels.
    pub decode: Duration,
    /// Display and thumbnail resizing.
    pub resize: Duration,
    /// Applying the orientation to both outputs.
    pub orient: Duration,
    /// JPEG encoding of both outputs.
    pub encode: Duration,
}

impl StageTimings {
    pub fn total(&self) -> Duration {
        self.parse + self.decode + self.resize + self.orient + self.encode
    }
}

/// Processes one photo; see the [module documentation](self) for the steps.
pub fn process(bytes: &[u8], policy: &PhotoPolicy) -> Result<ProcessedPhoto, PhotoError> {
    process_timed(bytes, policy).map(|(photo, _)| photo)
}

/// [`process`], also returning how long each stage took (for diagnostics
/// and benchmarks).
pub fn process_timed(
    bytes: &[u8],
    policy: &PhotoPolicy,
) -> Result<(ProcessedPhoto, StageTimings), PhotoError> {
    let mut timings = StageTimings::default();
    let mut clock = Instant::now();
    let mut lap = |slot: &mut Duration| {
        let now = Instant::now();
        *slot += now - clock;
        clock = now;
    };

    policy.limits.check_input_len(bytes.len())?;
    let format = detect::detect(bytes)?;
    let container = container::parse(bytes, format, &policy.limits, Depth::Full)?;
    if container.truncated.is_some() && !policy.accept_truncated {
        return Err(PhotoError::Truncated);
    }
    let mut metadata = metadata::extract(&container, policy, Utc::now());
    if container.truncated.is_some() {
        metadata.flags.push(FLAG_TRUNCATED.to_string());
    }
    lap(&mut timings.parse);

    let decoded = match decode::decode(bytes, &container, &policy.limits) {
        Ok(p) => p,
        // A truncated file the decoder cannot salvage is reported as truncated.
        Err(_) if container.truncated.is_some() => return Err(PhotoError::Truncated),
        Err(e) => return Err(e),
    };
    let (source_width, source_height) = (decoded.width, decoded.height);
    lap(&mut timings.decode);

    // Resize in the stored orientation; orientation is applied to the small images.
    let (dw, dh) = resize::fit_long_edge(source_width, source_height, policy.display_edge());
    let display = if (dw, dh) == (source_width, source_height) {
        decoded
    } else {
        metadata.flags.push(FLAG_DOWNSCALED.to_string());
        let small = resize::resize(&decoded, dw, dh)?;
        drop(decoded); // free the full-size buffer before anything else
        small
    };
    let (tw, th) = resize::fit_long_edge(display.width, display.height, policy.thumbnail_edge());
    let thumbnail = if (tw, th) == (display.width, display.height) {
        display.clone()
    } else {
        resize::resize(&display, tw, th)?
    };
    lap(&mut timings.resize);

    let display = orient::apply(display, metadata.orientation)?;
    let thumbnail = orient::apply(thumbnail, metadata.orientation)?;
    lap(&mut timings.orient);

    let display_jpeg = encode::encode_jpeg(&display, policy.quality())?;
    let thumbnail_jpeg = encode::encode_jpeg(&thumbnail, policy.quality())?;
    lap(&mut timings.encode);

    let photo = ProcessedPhoto {
        source_format: format,
        source_width,
        source_height,
        display_jpeg,
        display_width: display.width,
        display_height: display.height,
        thumbnail_jpeg,
        thumbnail_width: thumbnail.width,
        thumbnail_height: thumbnail.height,
        metadata,
    };
    Ok((photo, timings))
}

/// Reads only the metadata (no pixel decoding, no size limits beyond the
/// input size, no truncation check), filtered by the policy like [`process`].
pub fn read_metadata(bytes: &[u8], policy: &PhotoPolicy) -> Result<PhotoMetadata, PhotoError> {
    policy.limits.check_input_len(bytes.len())?;
    let format = detect::detect(bytes)?;
    let container = container::parse(bytes, format, &policy.limits, Depth::Metadata)?;
    Ok(metadata::extract(&container, policy, Utc::now()))
}

/// SHA-256 of `bytes` as 64 lowercase hex digits (for `PhotoRef::sha256_hex`
/// of a stored output), computed with ring.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentKind;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tiny_synthetic_png_round_trip() {
        // A 3×2 RGBA PNG made with the image crate.
        let img = image::RgbaImage::from_fn(3, 2, |x, _| {
            image::Rgba([255, 0, 0, if x == 0 { 0 } else { 255 }])
        });
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let out =
            process(&png, &PhotoPolicy::for_kind(DocumentKind::BearSighting)).expect("process");
        assert_eq!(out.source_format, SourceFormat::Png);
        assert_eq!((out.display_width, out.display_height), (3, 2));
        assert_eq!(out.metadata.orientation, 1);
        assert!(metadata_segments(&out.display_jpeg).is_empty());

        let cut = &png[..png.len() - 6];
        assert_eq!(
            process(cut, &PhotoPolicy::for_kind(DocumentKind::BearSighting)),
            Err(PhotoError::Truncated)
        );
    }
}
