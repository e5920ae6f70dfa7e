//! Baseline JPEG encoding with `jpeg-encoder`. The output holds only a plain
//! JFIF `APP0` header (no thumbnail), tables and the scan: no EXIF, XMP,
//! ICC, IPTC or comment segment is ever written.
use jpeg_encoder::{ColorType, Encoder};

use super::decode::{Channels, Pixels};
use super::error::PhotoError;

/// Encodes `pixels` as a baseline (sequential) JPEG, 4:2:0 below quality 90.
pub(crate) fn encode_jpeg(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let too_big = || PhotoError::too_large("the output image is larger than a JPEG can hold");
    let width = u16::try_from(pixels.width).map_err(|_| too_big())?;
    let height = u16::try_from(pixels.height).map_err(|_| too_big())?;
    let color = match pixels.channels {
        Channels::Gray => ColorType::Luma,
        Channels::Rgb => ColorType::Rgb,
    };
    // A q85 photo compresses to roughly 1/10 of its RGB size.
    let mut out = Vec::new();
    out.try_reserve(pixels.data.len() / 8 + 1024)
        .map_err(|_| PhotoError::too_large("not enough memory to encode the image"))?;
    let encoder = Encoder::new(&mut out, quality.clamp(1, 100));
    encoder
        .encode(&pixels.data, width, height, color)
        .map_err(|_| PhotoError::malformed("the image could not be encoded as JPEG"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photo::jpeg::metadata_segments;

    #[test]
    fn baseline_jpeg_without_metadata() {
        let p = Pixels {
            data: [200u8, 100, 50].repeat(40 * 30),
            width: 40,
            height: 30,
            channels: Channels::Rgb,
        };
        let jpeg = encode_jpeg(&p, 85).expect("encode");
        assert!(jpeg.starts_with(&[0xFF, 0xD8]));
        assert!(jpeg.ends_with(&[0xFF, 0xD9]));
        assert!(metadata_segments(&jpeg).is_empty());
        // Baseline: SOF0, never SOF2.
        assert!(jpeg.windows(2).any(|w| w == [0xFF, 0xC0]));
        assert!(!jpeg.windows(2).any(|w| w == [0xFF, 0xC2]));
        let back = image::load_from_memory(&jpeg).expect("decodes").to_rgb8();
        assert_eq!(back.dimensions(), (40, 30));
        let px = back.get_pixel(20, 15).0;
        assert!(px
            .iter()
            .zip([200u8, 100, 50])
            .all(|(a, b)| a.abs_diff(b) <= 3));

        let gray = Pixels {
            data: vec![128; 9],
            width: 3,
            height: 3,
            channels: Channels::Gray,
        };
        assert!(metadata_segments(&encode_jpeg(&gray, 85).expect("gray")).is_empty());
    }
}
