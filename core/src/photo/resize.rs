//! Downscaling with `fast_image_resize` (Lanczos3 convolution, SIMD).
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::decode::{Channels, Pixels};
use super::error::PhotoError;

/// The size that fits `long_edge` on the longer side, keeping the aspect
/// ratio (rounded, at least 1 pixel). Never larger than the source.
pub(crate) fn fit_long_edge(width: u32, height: u32, long_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_edge || long == 0 {
        return (width, height);
    }
    let scale = |v: u32| -> u32 {
        let scaled = (u64::from(v) * u64::from(long_edge) + u64::from(long) / 2) / u64::from(long);
        (scaled as u32).clamp(1, long_edge)
    };
    if width >= height {
        (long_edge, scale(height))
    } else {
        (scale(width), long_edge)
    }
}

fn pixel_type(channels: Channels) -> PixelType {
    match channels {
        Channels::Gray => PixelType::U8,
        Channels::Rgb => PixelType::U8x3,
    }
}

/// Resizes `src` to exactly `width`×`height` (Lanczos3).
pub(crate) fn resize(src: &Pixels, width: u32, height: u32) -> Result<Pixels, PhotoError> {
    let failed = |_| PhotoError::malformed("the image could not be resized");
    let pt = pixel_type(src.channels);
    let src_view = ImageRef::new(src.width, src.height, &src.data, pt).map_err(failed)?;
    let mut out = Pixels::try_new(width, height, src.channels)
        .ok_or_else(|| PhotoError::too_large("not enough memory to resize the image"))?;
    let mut dst_view = Image::from_slice_u8(width, height, &mut out.data, pt).map_err(failed)?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    // The resizer's scratch buffers are freed when it goes out of scope.
    let mut resizer = Resizer::new();
    resizer
        .resize(&src_view, &mut dst_view, &options)
        .map_err(|_| PhotoError::malformed("the image could not be resized"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting() {
        assert_eq!(fit_long_edge(4032, 3024, 2048), (2048, 1536));
        assert_eq!(fit_long_edge(3024, 4032, 2048), (1536, 2048));
        assert_eq!(fit_long_edge(2048, 1536, 320), (320, 240));
        assert_eq!(
            fit_long_edge(1800, 1200, 2048),
            (1800, 1200),
            "never upscale"
        );
        assert_eq!(fit_long_edge(1, 1, 320), (1, 1));
        assert_eq!(
            fit_long_edge(10_000, 3, 320),
            (320, 1),
            "at least one pixel"
        );
        assert_eq!(fit_long_edge(4928, 3264, 2048), (2048, 1356));
    }

    #[test]
    fn resizes_flat_colours_exactly() {
        let src = Pixels {
            data: [10u8, 200, 30].repeat(64 * 48),
            width: 64,
            height: 48,
            channels: Channels::Rgb,
        };
        let out = resize(&src, 16, 12).expect("resize");
        assert_eq!((out.width, out.height), (16, 12));
        assert!(out.data.chunks(3).all(|p| p == [10, 200, 30]));

        let gray = Pixels {
            data: vec![77; 30 * 20],
            width: 30,
            height: 20,
            channels: Channels::Gray,
        };
        let out = resize(&gray, 3, 2).expect("resize");
        assert_eq!(out.data, vec![77; 6]);
    }
}
