//! EXIF orientation applied to (already downscaled) pixels.
//!
//! | value | stored image is…        | to display it            | output size |
//! |-------|-------------------------|--------------------------|-------------|
//! | 1     | upright                 | nothing                  | W×H         |
//! | 2     | mirrored                | flip horizontally        | W×H         |
//! | 3     | upside down             | rotate 180°              | W×H         |
//! | 4     | mirrored upside down    | flip vertically          | W×H         |
//! | 5     | mirrored, on its side   | transpose                | H×W         |
//! | 6     | on its side             | rotate 90° clockwise     | H×W         |
//! | 7     | mirrored, on its side   | transverse               | H×W         |
//! | 8     | on its other side       | rotate 90° anticlockwise | H×W         |
//!
//! Any other value is treated as 1.
use super::decode::Pixels;
use super::error::PhotoError;

/// Applies `orientation` to `src`. 1–4 work in place; 5–8 need one new
/// buffer of the same size.
pub(crate) fn apply(mut src: Pixels, orientation: u16) -> Result<Pixels, PhotoError> {
    let (w, h) = (src.width as usize, src.height as usize);
    let bpp = src.channels.count();
    let row = w * bpp;
    match orientation {
        2 => {
            for line in src.data.chunks_exact_mut(row) {
                reverse_pixels(line, bpp);
            }
            Ok(src)
        }
        3 => {
            reverse_pixels(&mut src.data[..w * h * bpp], bpp);
            Ok(src)
        }
        4 => {
            flip_rows(&mut src.data, row, h);
            Ok(src)
        }
        5..=8 => {
            let mut out = Pixels::try_new(src.height, src.width, src.channels)
                .ok_or_else(|| PhotoError::too_large("not enough memory to rotate the image"))?;
            // Output is h wide and w tall; output pixel (x, y) comes from
            // source pixel (sx, sy).
            let map = |x: usize, y: usize| match orientation {
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            match src.channels.count() {
                1 => transpose_tiled::<1>(&src.data, &mut out.data, w, h, map),
                _ => transpose_tiled::<3>(&src.data, &mut out.data, w, h, map),
            }
            Ok(out)
        }
        _ => Ok(src),
    }
}

/// Fills the `h`×`w` output from the `w`×`h` source through `map`, in
/// 64×64 tiles so both the rows written and the columns read stay in cache.
fn transpose_tiled<const BPP: usize>(
    src: &[u8],
    out: &mut [u8],
    w: usize,
    h: usize,
    map: impl Fn(usize, usize) -> (usize, usize),
) {
    const TILE: usize = 64;
    let (ow, oh) = (h, w);
    for ty in (0..oh).step_by(TILE) {
        for tx in (0..ow).step_by(TILE) {
            for y in ty..(ty + TILE).min(oh) {
                let row = y * ow;
                for x in tx..(tx + TILE).min(ow) {
                    let (sx, sy) = map(x, y);
                    let s = (sy * w + sx) * BPP;
                    let d = (row + x) * BPP;
                    out[d..d + BPP].copy_from_slice(&src[s..s + BPP]);
                }
            }
        }
    }
}

/// Reverses the order of the pixels in `data` (each `bpp` bytes).
fn reverse_pixels(data: &mut [u8], bpp: usize) {
    if bpp == 1 {
        data.reverse();
        return;
    }
    // Reverse all bytes, then restore the byte order inside each pixel.
    data.reverse();
    for px in data.chunks_exact_mut(bpp) {
        px.reverse();
    }
}

/// Swaps row `i` with row `h − 1 − i`.
fn flip_rows(data: &mut [u8], row: usize, h: usize) {
    for i in 0..h / 2 {
        let (top, bottom) = data.split_at_mut((h - 1 - i) * row);
        top[i * row..(i + 1) * row].swap_with_slice(&mut bottom[..row]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photo::decode::Channels;
    use image::{imageops, RgbImage};

    fn sample(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([x as u8, y as u8, (x * 7 + y * 13) as u8])
        })
    }

    fn to_pixels(img: &RgbImage) -> Pixels {
        Pixels {
            data: img.as_raw().clone(),
            width: img.width(),
            height: img.height(),
            channels: Channels::Rgb,
        }
    }

    /// The `image` crate's own transforms are the independent reference.
    #[test]
    fn matches_image_crate_transforms() {
        let img = sample(7, 4);
        let expected: [(u16, RgbImage); 8] = [
            (1, img.clone()),
            (2, imageops::flip_horizontal(&img)),
            (3, imageops::rotate180(&img)),
            (4, imageops::flip_vertical(&img)),
            (5, imageops::flip_horizontal(&imageops::rotate90(&img))),
            (6, imageops::rotate90(&img)),
            (7, imageops::flip_horizontal(&imageops::rotate270(&img))),
            (8, imageops::rotate270(&img)),
        ];
        for (o, want) in expected {
            let got = apply(to_pixels(&img), o).expect("apply");
            assert_eq!(
                (got.width, got.height),
                (want.width(), want.height()),
                "orientation {o}"
            );
            assert_eq!(got.data, want.as_raw().clone(), "orientation {o}");
            assert_eq!(matches!(o, 5..=8), got.width != img.width());
        }
        // 0 and out-of-range values: untouched.
        for o in [0, 9, 65_535] {
            assert_eq!(
                apply(to_pixels(&img), o).expect("apply").data,
                *img.as_raw()
            );
        }
    }

    #[test]
    fn gray_and_odd_sizes() {
        let gray = Pixels {
            data: (0u8..15).collect(),
            width: 5,
            height: 3,
            channels: Channels::Gray,
        };
        let r = apply(gray.clone(), 6).expect("apply");
        assert_eq!((r.width, r.height), (3, 5));
        // First output row: left column of the source, bottom to top.
        assert_eq!(&r.data[..3], &[10, 5, 0]);
        let flipped = apply(gray.clone(), 4).expect("apply");
        assert_eq!(&flipped.data[..5], &[10, 11, 12, 13, 14]);
        assert_eq!(&flipped.data[5..10], &[5, 6, 7, 8, 9]);
        let one = Pixels {
            data: vec![1, 2, 3],
            width: 1,
            height: 1,
            channels: Channels::Rgb,
        };
        for o in 1..=8 {
            assert_eq!(apply(one.clone(), o).expect("apply").data, vec![1, 2, 3]);
        }
    }
}
