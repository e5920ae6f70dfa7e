//! PNG chunk structure, read without decoding pixels: IHDR (dimensions,
//! depth, colour type), EXIF (`eXIf`, or ImageMagick's hex-encoded
//! `tEXt "Raw profile type exif"`), XMP (uncompressed `iTXt
//! "XML:com.adobe.xmp"`), and whether `IEND` is present.
//!
//! CRCs are left to the decoder. Every read is bounds-checked and every
//! loop advances, so the cost is linear in the input size.
use std::borrow::Cow;

use super::error::PhotoError;

const SIGNATURE_LEN: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct PngInfo<'a> {
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    pub color_type: u8,
    /// TIFF structure of the EXIF data.
    pub exif: Option<Cow<'a, [u8]>>,
    /// XMP packet.
    pub xmp: Option<&'a [u8]>,
    /// `IEND` was found and no chunk runs past the end of the data.
    pub complete: bool,
}

impl PngInfo<'_> {
    /// Bytes per pixel of the decoded image (`image` expands palettes and
    /// low bit depths to 8 bits; 16-bit stays 16-bit). A palette counts as
    /// RGBA because a `tRNS` chunk adds alpha.
    pub fn decoded_bytes_per_pixel(&self) -> u64 {
        let channels = match self.color_type {
            0 => 1,
            2 => 3,
            4 => 2,
            _ => 4,
        };
        let bytes = if self.bit_depth == 16 { 2 } else { 1 };
        channels * bytes
    }
}

/// Walks the chunks. `check_header` is called right after IHDR, so a bomb
/// is refused even when later chunks are broken.
pub(crate) fn parse(
    bytes: &[u8],
    mut check_header: impl FnMut(u32, u32) -> Result<(), PhotoError>,
) -> Result<PngInfo<'_>, PhotoError> {
    let mut pos = SIGNATURE_LEN;
    let mut info: Option<PngInfo<'_>> = None;
    // One chunk per pass. `complete` stays false unless IEND is read; the
    // loop also ends when the data ends (or mid chunk header).
    while let Some(head) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        if len > 0x7FFF_FFFF {
            return Err(PhotoError::malformed("a PNG chunk has an invalid length"));
        }
        let data_start = pos + 8;
        let data_end = data_start + len as usize;
        let Some(data) = bytes.get(data_start..data_end) else {
            break; // chunk runs past the end of the data
        };
        let chunk_end = data_end + 4;
        pos = chunk_end;

        let Some(i) = info.as_mut() else {
            if &kind != b"IHDR" {
                return Err(PhotoError::malformed("the PNG does not start with IHDR"));
            }
            let h = data
                .get(0..13)
                .ok_or_else(|| PhotoError::malformed("the PNG header chunk is too short"))?;
            let width = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            let height = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            check_header(width, height)?;
            info = Some(PngInfo {
                width,
                height,
                bit_depth: h[8],
                color_type: h[9],
                exif: None,
                xmp: None,
                complete: false,
            });
            continue;
        };

        match &kind {
            b"IEND" => {
                i.complete = chunk_end <= bytes.len();
                break;
            }
            b"eXIf" if i.exif.is_none() => {
                let tiff = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
                i.exif = Some(Cow::Borrowed(tiff));
            }
            b"tEXt" if i.exif.is_none() => {
                if let Some(text) = data.strip_prefix(b"Raw profile type exif\0") {
                    i.exif = decode_raw_profile(text).map(Cow::Owned);
                }
            }
            b"iTXt" if i.xmp.is_none() => {
                i.xmp = uncompressed_itxt(data, b"XML:com.adobe.xmp");
            }
            _ => {}
        }
    }
    info.ok_or_else(|| PhotoError::malformed("the PNG ends before its header"))
}

/// The text of an uncompressed `iTXt` chunk with this keyword.
/// Layout: keyword NUL, compression flag, method, language NUL, translated keyword NUL, text.
fn uncompressed_itxt<'a>(data: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let rest = data.strip_prefix(keyword)?.strip_prefix(b"\0")?;
    let (&flag, rest) = rest.split_first()?;
    if flag != 0 {
        return None;
    }
    let rest = rest.get(1..)?; // compression method
    let lang_end = rest.iter().position(|&b| b == 0)?;
    let rest = rest.get(lang_end + 1..)?;
    let tk_end = rest.iter().position(|&b| b == 0)?;
    rest.get(tk_end + 1..)
}

/// Decodes ImageMagick's "Raw profile" text: `\n<name>\n<spaces><length>\n<hex…>`.
/// Returns the TIFF structure (an `Exif\0\0` prefix is removed).
fn decode_raw_profile(text: &[u8]) -> Option<Vec<u8>> {
    let mut it = text.iter().copied().peekable();
    // Skip leading whitespace, then the profile name line.
    while it.peek().is_some_and(|b| b.is_ascii_whitespace()) {
        it.next();
    }
    for b in it.by_ref() {
        if b == b'\n' {
            break;
        }
    }
    while it.peek().is_some_and(|b| b.is_ascii_whitespace()) {
        it.next();
    }
    let mut declared: usize = 0;
    let mut digits = 0;
    while let Some(d) = it.peek().copied().filter(u8::is_ascii_digit) {
        declared = declared
            .checked_mul(10)?
            .checked_add(usize::from(d - b'0'))?;
        digits += 1;
        it.next();
    }
    if digits == 0 || declared == 0 {
        return None;
    }
    // Never trust the declared length beyond what the text can hold.
    let declared = declared.min(text.len() / 2);
    let mut out = Vec::with_capacity(declared);
    let mut high: Option<u8> = None;
    for b in it {
        if out.len() == declared {
            break;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        let v = (b as char).to_digit(16)? as u8;
        match high.take() {
            None => high = Some(v),
            Some(h) => out.push((h << 4) | v),
        }
    }
    if out.len() != declared {
        return None;
    }
    Some(match out.strip_prefix(b"Exif\0\0") {
        Some(tiff) => tiff.to_vec(),
        None => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0, 0, 0]); // CRC: not checked here
        v
    }

    fn ihdr(w: u32, h: u32) -> Vec<u8> {
        let mut d = w.to_be_bytes().to_vec();
        d.extend_from_slice(&h.to_be_bytes());
        d.extend_from_slice(&[8, 6, 0, 0, 0]);
        chunk(b"IHDR", &d)
    }

    fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        for c in chunks {
            v.extend_from_slice(c);
        }
        v
    }

    #[test]
    fn reads_header_exif_xmp_and_end() {
        let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
        itxt.extend_from_slice(b"<x tiff:Orientation=\"3\"/>");
        let bytes = png(&[
            ihdr(326, 268),
            chunk(b"iTXt", &itxt),
            chunk(b"eXIf", b"MM\0*\0\0\0\x08"),
            chunk(b"IDAT", &[1, 2, 3]),
            chunk(b"IEND", &[]),
        ]);
        let info = parse(&bytes, |_, _| Ok(())).expect("parse");
        assert_eq!((info.width, info.height), (326, 268));
        assert_eq!(info.decoded_bytes_per_pixel(), 4);
        assert!(info.complete);
        assert_eq!(info.exif.as_deref(), Some(&b"MM\0*\0\0\0\x08"[..]));
        assert_eq!(info.xmp, Some(&b"<x tiff:Orientation=\"3\"/>"[..]));
    }

    #[test]
    fn missing_iend_or_short_chunk_is_incomplete() {
        let whole = png(&[ihdr(4, 4), chunk(b"IDAT", &[1, 2, 3]), chunk(b"IEND", &[])]);
        assert!(parse(&whole, |_, _| Ok(())).expect("whole").complete);
        for cut in [whole.len() - 12, whole.len() - 3, whole.len() - 14, 33 + 5] {
            let info = parse(&whole[..cut], |_, _| Ok(())).expect("cut");
            assert!(!info.complete, "cut at {cut}");
        }
    }

    #[test]
    fn broken_headers_are_malformed_and_bombs_are_checked_first() {
        for bytes in [
            png(&[]),
            png(&[chunk(b"IDAT", &[0])]),
            png(&[chunk(b"IHDR", &[0; 5])]),
            b"\x89PNG\r\n\x1a\n\xFF\xFF\xFF\xFFIHDR".to_vec(),
        ] {
            assert!(
                matches!(parse(&bytes, |_, _| Ok(())), Err(PhotoError::Malformed(_))),
                "{bytes:02X?}"
            );
        }
        let mut bomb = png(&[ihdr(u32::MAX, 536_883_232)]);
        bomb.extend_from_slice(b"\0\0\0\x05junk");
        let err = parse(&bomb, |w, _| Err(PhotoError::too_large(w.to_string()))).unwrap_err();
        assert!(matches!(err, PhotoError::TooLarge { .. }));
    }

    #[test]
    fn imagemagick_raw_profile() {
        let text = b"\nexif\n      14\n4578696600004d4d002a\n00000008\n";
        assert_eq!(decode_raw_profile(text), Some(b"MM\0*\0\0\0\x08".to_vec()));
        // Declared length longer than the data, bad hex, no length: ignored.
        assert_eq!(decode_raw_profile(b"\nexif\n 99\n4d4d"), None);
        assert_eq!(decode_raw_profile(b"\nexif\n 2\nzz"), None);
        assert_eq!(decode_raw_profile(b"\nexif\n\n"), None);
        assert_eq!(
            decode_raw_profile(b"\nexif\n 99999999999999999999999\n"),
            None
        );
        // Compressed iTXt is skipped, uncompressed read.
        assert_eq!(
            uncompressed_itxt(b"XML:com.adobe.xmp\0\x01\0\0\0xx", b"XML:com.adobe.xmp"),
            None
        );
        assert_eq!(
            uncompressed_itxt(b"XML:com.adobe.xmp\0\0\0en\0\0xx", b"XML:com.adobe.xmp"),
            Some(&b"xx"[..])
        );
    }
}
