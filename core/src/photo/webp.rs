//! WebP RIFF structure, read without decoding pixels: canvas size (`VP8X`,
//! else the `VP8 `/`VP8L` bitstream header), `EXIF` and `XMP ` chunks, and
//! whether the data is as long as the RIFF header says.
use super::error::PhotoError;

#[derive(Debug, Clone)]
pub(crate) struct WebpInfo<'a> {
    pub width: u32,
    pub height: u32,
    pub lossless: bool,
    pub exif: Option<&'a [u8]>,
    pub xmp: Option<&'a [u8]>,
    /// The data is at least as long as the RIFF size and no chunk runs past it.
    pub complete: bool,
}

fn u24_le(b: &[u8]) -> u32 {
    b.iter()
        .take(3)
        .rev()
        .fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
}

/// Walks the chunks. `check_header` runs as soon as the size is known.
pub(crate) fn parse(
    bytes: &[u8],
    mut check_header: impl FnMut(u32, u32) -> Result<(), PhotoError>,
) -> Result<WebpInfo<'_>, PhotoError> {
    let header = bytes
        .get(0..12)
        .filter(|h| h.starts_with(b"RIFF") && h.get(8..12) == Some(b"WEBP"))
        .ok_or_else(|| PhotoError::malformed("the WebP RIFF header is missing"))?;
    let riff_size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if riff_size < 4 {
        return Err(PhotoError::malformed("the WebP RIFF size is invalid"));
    }
    let riff_end = 8u64 + u64::from(riff_size);
    let mut complete = riff_end <= bytes.len() as u64;
    let end = usize::try_from(riff_end.min(bytes.len() as u64)).unwrap_or(bytes.len());

    let mut size: Option<(u32, u32)> = None;
    let mut lossless = false;
    let mut exif = None;
    let mut xmp = None;
    let mut pos = 12usize;
    while let Some(head) = bytes.get(pos..pos + 8).filter(|_| pos + 8 <= end) {
        let fourcc = [head[0], head[1], head[2], head[3]];
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data_start = pos + 8;
        let Some(data) = data_start
            .checked_add(len)
            .filter(|&e| e <= end)
            .and_then(|e| bytes.get(data_start..e))
        else {
            complete = false;
            break;
        };
        match &fourcc {
            b"VP8X" => {
                if let Some(d) = data.get(0..10) {
                    let w = u24_le(&d[4..7]) + 1;
                    let h = u24_le(&d[7..10]) + 1;
                    check_header(w, h)?;
                    size = Some((w, h));
                }
            }
            b"VP8 " if size.is_none() => {
                // Frame tag (3 bytes), start code 9D 01 2A, 14-bit width and height.
                if let Some(d) = data.get(0..10).filter(|d| d[3..6] == [0x9D, 0x01, 0x2A]) {
                    let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3FFF);
                    let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3FFF);
                    check_header(w, h)?;
                    size = Some((w, h));
                }
            }
            b"VP8L" => {
                lossless = true;
                if size.is_none() {
                    if let Some(d) = data.get(0..5).filter(|d| d[0] == 0x2F) {
                        let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
                        let w = (bits & 0x3FFF) + 1;
                        let h = ((bits >> 14) & 0x3FFF) + 1;
                        check_header(w, h)?;
                        size = Some((w, h));
                    }
                }
            }
            b"EXIF" if exif.is_none() => {
                exif = Some(data.strip_prefix(b"Exif\0\0").unwrap_or(data));
            }
            b"XMP " if xmp.is_none() => xmp = Some(data),
            _ => {}
        }
        // Chunks are padded to an even length.
        pos = data_start + len + (len & 1);
    }
    let (width, height) = size.ok_or_else(|| {
        if complete {
            PhotoError::malformed("the WebP has no image header")
        } else {
            PhotoError::Truncated
        }
    })?;
    Ok(WebpInfo {
        width,
        height,
        lossless,
        exif,
        xmp,
        complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = fourcc.to_vec();
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        if data.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend_from_slice(&body);
        v
    }

    fn vp8l(w: u32, h: u32) -> Vec<u8> {
        let bits = (w - 1) | ((h - 1) << 14);
        let mut d = vec![0x2F];
        d.extend_from_slice(&bits.to_le_bytes());
        d.extend_from_slice(&[0, 0, 0]);
        chunk(b"VP8L", &d)
    }

    #[test]
    fn reads_sizes_and_metadata() {
        let mut vp8x = vec![0x08, 0, 0, 0];
        vp8x.extend_from_slice(&[0xFF, 0x0F, 0x00, 0x7F, 0x02, 0x00]); // 4096 × 640
        let bytes = riff(&[
            chunk(b"VP8X", &vp8x),
            vp8l(4096, 640),
            chunk(b"EXIF", b"Exif\0\0II*\0\x08\0\0\0"),
            chunk(b"XMP ", b"<x/>"),
        ]);
        let info = parse(&bytes, |_, _| Ok(())).expect("parse");
        assert_eq!((info.width, info.height), (4096, 640));
        assert!(info.lossless && info.complete);
        assert_eq!(info.exif, Some(&b"II*\0\x08\0\0\0"[..]));
        assert_eq!(info.xmp, Some(&b"<x/>"[..]));

        let mut vp8 = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
        vp8.extend_from_slice(&320u16.to_le_bytes());
        vp8.extend_from_slice(&240u16.to_le_bytes());
        let lossy = riff(&[chunk(b"VP8 ", &vp8)]);
        let info = parse(&lossy, |_, _| Ok(())).expect("vp8");
        assert_eq!((info.width, info.height, info.lossless), (320, 240, false));
    }

    #[test]
    fn riff_size_larger_than_data_is_incomplete() {
        let whole = riff(&[vp8l(8, 8), chunk(b"EXIF", &[0; 10])]);
        assert!(parse(&whole, |_, _| Ok(())).expect("whole").complete);
        let cut = &whole[..whole.len() - 4];
        assert!(!parse(cut, |_, _| Ok(())).expect("cut").complete);
        // Only the RIFF header: nothing to decode.
        assert_eq!(
            parse(&whole[..14], |_, _| Ok(())).unwrap_err(),
            PhotoError::Truncated
        );
    }

    #[test]
    fn broken_input_is_malformed_and_bombs_checked() {
        assert!(matches!(
            parse(b"RIFF\0\0\0\0WEBP", |_, _| Ok(())),
            Err(PhotoError::Malformed(_))
        ));
        assert!(matches!(
            parse(&riff(&[chunk(b"JUNK", &[1, 2])]), |_, _| Ok(())),
            Err(PhotoError::Malformed(_))
        ));
        let bomb = riff(&[vp8l(16_384, 16_384)]);
        assert!(matches!(
            parse(&bomb, |_, _| Err(PhotoError::too_large("x"))),
            Err(PhotoError::TooLarge { .. })
        ));
        // A chunk length near u32::MAX never overflows.
        let mut huge = b"RIFF\xFF\xFF\xFF\xFFWEBPVP8L".to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            parse(&huge, |_, _| Ok(())).unwrap_err(),
            PhotoError::Truncated
        );
    }
}
