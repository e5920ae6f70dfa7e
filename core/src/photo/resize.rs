//! Downscaling with `fast_image_resize` (Lanczos3 convolution, SIMD).
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::U8x3;
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer};

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

/// Resizes `src` to exactly `width`×`height` (Lanczos3).
pub(crate) fn resize(src: &Pixels, width: u32, height: u32) -> Result<Pixels, PhotoError> {
    // One pixel layout only: the typed entry point instantiates the SIMD
    // convolutions (SSE4.1, AVX2 / NEON, each for ~30 fixed-point
    // precisions) for the layout it is given, and each layout costs ~350 kB
    // of shipped code (docs/performance.md, "Mobile library size"). Colour is
    // the rule; the rare grey photo is widened to RGB for the resize and
    // narrowed back, which costs time and memory on that path only.
    match src.channels {
        Channels::Rgb => resize_rgb(src, width, height),
        Channels::Gray => {
            let rgb = gray_to_rgb(src)?;
            let out = resize_rgb(&rgb, width, height)?;
            drop(rgb);
            Ok(rgb_to_gray(&out))
        }
    }
}

fn resize_rgb(src: &Pixels, width: u32, height: u32) -> Result<Pixels, PhotoError> {
    let mut out = Pixels::try_new(width, height, Channels::Rgb)
        .ok_or_else(|| PhotoError::too_large("not enough memory to resize the image"))?;
    resize_as::<U8x3>(src, &mut out)?;
    Ok(out)
}

fn gray_to_rgb(src: &Pixels) -> Result<Pixels, PhotoError> {
    let mut rgb = Pixels::try_new(src.width, src.height, Channels::Rgb)
        .ok_or_else(|| PhotoError::too_large("not enough memory to resize the image"))?;
    for (dst, &g) in rgb.data.chunks_exact_mut(3).zip(&src.data) {
        dst.fill(g);
    }
    Ok(rgb)
}

/// Exact: the three channels of a widened grey image stay equal through the
/// (per-channel, identical) convolution.
fn rgb_to_gray(rgb: &Pixels) -> Pixels {
    Pixels {
        data: rgb.data.chunks_exact(3).map(|p| p[0]).collect(),
        width: rgb.width,
        height: rgb.height,
        channels: Channels::Gray,
    }
}

fn resize_as<P: PixelTrait>(src: &Pixels, out: &mut Pixels) -> Result<(), PhotoError> {
    fn failed<E>(_: E) -> PhotoError {
        PhotoError::malformed("the image could not be resized")
    }
    let src_view =
        TypedImageRef::<P>::from_buffer(src.width, src.height, &src.data).map_err(failed)?;
    let mut dst_view =
        TypedImage::<P>::from_buffer(out.width, out.height, &mut out.data).map_err(failed)?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    // The resizer's scratch buffers are freed when it goes out of scope.
    let mut resizer = Resizer::new();
    resizer
        .resize_typed(&src_view, &mut dst_view, &options)
        .map_err(failed)
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

    #[test]
    fn grey_stays_grey_and_keeps_its_gradient() {
        // A left-to-right ramp 0..=239, 240×10 -> 24×1.
        let gray = Pixels {
            data: (0..10).flat_map(|_| 0..240u8).collect(),
            width: 240,
            height: 10,
            channels: Channels::Gray,
        };
        let out = resize(&gray, 24, 1).expect("resize");
        assert_eq!(out.channels, Channels::Gray);
        assert_eq!(out.data.len(), 24);
        assert!(out.data.windows(2).all(|w| w[0] < w[1]), "{:?}", out.data);
        // Each output pixel averages a 10-pixel span centred on 10 i + 4.5.
        for (i, &v) in out.data.iter().enumerate().skip(1).take(22) {
            let centre = 10.0 * i as f64 + 4.5;
            assert!(
                (f64::from(v) - centre).abs() <= 1.0,
                "pixel {i}: {v} vs {centre}"
            );
        }
    }
}
