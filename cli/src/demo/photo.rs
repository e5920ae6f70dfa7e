//! The demo's photo: a real camera photo from the shared corpus when it is
//! there, otherwise a picture generated here (nothing from the corpus is
//! bundled in the repository).
use std::path::PathBuf;

/// A real phone-camera JPEG with EXIF GPS (see the corpus MANIFEST).
const CORPUS_PHOTO: &str = "photos/camera/nikon_p6000_gps_DSCN0010.jpg";

pub struct Picture {
    pub bytes: Vec<u8>,
    /// Where it came from, for the narrative.
    pub source: String,
}

fn corpus_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(dir) = std::env::var("FIELDVAULT_CORPUS") {
        dirs.push(PathBuf::from(dir));
    }
    // ../shared/corpus beside the workspace, and beside the working directory.
    dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    dirs.push(PathBuf::from("../shared/corpus"));
    dirs
}

pub fn load() -> Picture {
    for dir in corpus_dirs() {
        if let Ok(bytes) = std::fs::read(dir.join(CORPUS_PHOTO)) {
            return Picture {
                bytes,
                source: format!("corpus {CORPUS_PHOTO}"),
            };
        }
    }
    Picture {
        bytes: generated_jpeg(),
        source: "generated sample picture (no corpus found)".into(),
    }
}

/// A 640×480 JPEG of a forest-green gradient with a dark "bear" blob.
pub fn generated_jpeg() -> Vec<u8> {
    let (w, h) = (640u32, 480u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - 320.0, (y as f32 - 300.0) * 1.4);
        if dx * dx + dy * dy < 90.0 * 90.0 {
            image::Rgb([45, 30, 20])
        } else {
            let g = 90 + (y * 100 / h) as u8;
            image::Rgb([30 + (x * 40 / w) as u8, g, 40])
        }
    });
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    if img.write_with_encoder(encoder).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_picture_is_a_jpeg() {
        let bytes = super::generated_jpeg();
        assert!(bytes.starts_with(&[0xFF, 0xD8]), "JPEG SOI");
        assert!(bytes.len() > 1000);
    }
}
