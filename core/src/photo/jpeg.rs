//! JPEG marker structure, read without decoding pixels.
//!
//! * [`parse_headers`]: the segments up to the first scan (SOS): frame header
//!   (dimensions, precision, coding), restart interval, EXIF (`APP1 Exif`)
//!   and XMP (`APP1 http://ns.adobe.com/xap/1.0/`) payloads.
//! * [`check_complete`]: walks the entropy-coded data of every scan and says
//!   whether the image is whole (see its doc for the rules).
//! * [`metadata_segments`]: which APPn/COM segments a JPEG carries (tests use
//!   it to prove outputs carry no metadata).
//!
//! Like libjpeg, the walker skips junk bytes between segments and `0xFF`
//! fill bytes before a marker. Every read is bounds-checked; every loop
//! advances, so the cost is linear in the input size.
use super::error::PhotoError;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DRI: u8 = 0xDD;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const COM: u8 = 0xFE;

const EXIF_PREFIX: &[u8] = b"Exif\0\0";
const XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// One component of the frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Component {
    pub id: u8,
    pub h: u8,
    pub v: u8,
}

/// The frame header (SOFn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The SOF marker byte (`0xC0` baseline, `0xC1` extended, `0xC2` progressive, …).
    pub marker: u8,
    pub precision: u8,
    pub width: u32,
    pub height: u32,
    pub components: Vec<Component>,
}

impl Frame {
    pub fn is_progressive(&self) -> bool {
        matches!(self.marker, 0xC2 | 0xC6 | 0xCA | 0xCE)
    }

    /// `Some(name)` when the decoder cannot read this kind of JPEG.
    pub fn unsupported_kind(&self) -> Option<&'static str> {
        match self.marker {
            0xC0..=0xC2 if self.precision == 8 => None,
            0xC0..=0xC2 => Some("jpeg (12-bit)"),
            0xC3 => Some("jpeg (lossless)"),
            0xC5..=0xC7 => Some("jpeg (hierarchical)"),
            0xC9..=0xCB => Some("jpeg (arithmetic coding)"),
            _ => Some("jpeg (lossless arithmetic)"),
        }
    }

    fn max_sampling(&self) -> (u64, u64) {
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (u64::from(h.max(1)), u64::from(v.max(1)))
    }

    /// Memory the decoder needs beyond the output: progressive JPEGs keep
    /// every DCT coefficient (2 bytes each) of every component until the
    /// last scan.
    pub fn coefficient_bytes(&self) -> u64 {
        if !self.is_progressive() {
            return 0;
        }
        let (hmax, vmax) = self.max_sampling();
        self.components
            .iter()
            .map(|c| {
                let (bw, bh) = component_blocks(self, *c, hmax, vmax);
                bw * bh * 64 * 2
            })
            .sum()
    }
}

/// Blocks (8×8) of one component, horizontally and vertically (ITU T.81 A.1.1).
fn component_blocks(frame: &Frame, c: Component, hmax: u64, vmax: u64) -> (u64, u64) {
    let x = (u64::from(frame.width) * u64::from(c.h)).div_ceil(hmax);
    let y = (u64::from(frame.height) * u64::from(c.v)).div_ceil(vmax);
    (x.div_ceil(8), y.div_ceil(8))
}

/// What the segments before the first scan say.
#[derive(Debug, Clone)]
pub(crate) struct JpegHeaders<'a> {
    pub frame: Frame,
    /// TIFF structure of the first `APP1 Exif` segment (after `Exif\0\0`).
    pub exif: Option<&'a [u8]>,
    /// Packet of the first `APP1` XMP segment.
    pub xmp: Option<&'a [u8]>,
    restart_interval: u16,
    /// Offset of the `0xFF` of the first SOS marker.
    first_sos: usize,
}

/// Whether the entropy-coded data is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completeness {
    Complete,
    /// Why it is not (for diagnostics and tests).
    Truncated(&'static str),
}

/// Finds the next marker at or after `pos`, skipping junk bytes (not `0xFF`),
/// `0xFF` fill bytes and `FF 00` pairs. Returns `(marker, offset after the marker)`.
fn next_marker(bytes: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        let ff = pos + bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        let mut p = ff + 1;
        while bytes.get(p) == Some(&0xFF) {
            p += 1;
        }
        let marker = *bytes.get(p)?;
        if marker == 0x00 {
            pos = p + 1;
            continue;
        }
        return Some((marker, p + 1));
    }
}

/// Markers without a length field.
fn is_standalone(marker: u8) -> bool {
    matches!(marker, 0x01 | 0xD0..=0xD7 | SOI | EOI)
}

enum SegmentError {
    /// The segment runs past the end of the data.
    Truncated,
    /// The length field is smaller than itself.
    BadLength,
}

/// The payload of the segment whose length field starts at `after_marker`,
/// and the offset after the segment.
fn segment(bytes: &[u8], after_marker: usize) -> Result<(&[u8], usize), SegmentError> {
    let len_bytes = bytes
        .get(after_marker..after_marker + 2)
        .ok_or(SegmentError::Truncated)?;
    let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    if len < 2 {
        return Err(SegmentError::BadLength);
    }
    let end = after_marker + len;
    let payload = bytes
        .get(after_marker + 2..end)
        .ok_or(SegmentError::Truncated)?;
    Ok((payload, end))
}

/// Marker, precision and size of a frame header, without its components
/// (enough to refuse a bomb even when the rest of the header is garbage).
fn sof_size(marker: u8, payload: &[u8]) -> Result<Frame, PhotoError> {
    let head = payload
        .get(0..5)
        .ok_or_else(|| PhotoError::malformed("the JPEG frame header is too short"))?;
    Ok(Frame {
        marker,
        precision: head[0],
        height: u32::from(u16::from_be_bytes([head[1], head[2]])),
        width: u32::from(u16::from_be_bytes([head[3], head[4]])),
        components: Vec::new(),
    })
}

fn parse_sof(marker: u8, payload: &[u8]) -> Result<Frame, PhotoError> {
    let short = || PhotoError::malformed("the JPEG frame header is too short");
    let Frame {
        precision,
        width,
        height,
        ..
    } = sof_size(marker, payload)?;
    let count = usize::from(*payload.get(5).ok_or_else(short)?);
    if count == 0 || count > 4 {
        return Err(PhotoError::malformed(
            "the JPEG frame header has an invalid number of components",
        ));
    }
    let specs = payload.get(6..6 + 3 * count).ok_or_else(short)?;
    let mut components = Vec::with_capacity(count);
    for spec in specs.chunks_exact(3) {
        let (h, v) = (spec[1] >> 4, spec[1] & 0x0F);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(PhotoError::malformed(
                "the JPEG frame header has invalid sampling factors",
            ));
        }
        components.push(Component { id: spec[0], h, v });
    }
    Ok(Frame {
        marker,
        precision,
        width,
        height,
        components,
    })
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Reads the segments up to the first scan. `check_frame` is called with the
/// frame's marker, precision and size (no components) as soon as they are
/// read, so a decompression bomb is refused even if the rest is broken.
pub(crate) fn parse_headers<'a>(
    bytes: &'a [u8],
    mut check_frame: impl FnMut(&Frame) -> Result<(), PhotoError>,
) -> Result<JpegHeaders<'a>, PhotoError> {
    if !bytes.starts_with(&[0xFF, SOI]) {
        return Err(PhotoError::malformed("the JPEG does not start with SOI"));
    }
    let mut frame: Option<Frame> = None;
    let mut exif = None;
    let mut xmp = None;
    let mut restart_interval = 0u16;
    let mut pos = 2;
    loop {
        let Some((marker, after)) = next_marker(bytes, pos) else {
            return Err(match frame {
                Some(_) => PhotoError::Truncated,
                None => PhotoError::malformed("the JPEG ends before its frame header"),
            });
        };
        if marker == EOI {
            return Err(PhotoError::malformed("the JPEG has no image data"));
        }
        if is_standalone(marker) {
            pos = after;
            continue;
        }
        let (payload, next) = match segment(bytes, after) {
            Ok(s) => s,
            Err(SegmentError::Truncated) if is_sof(marker) && frame.is_none() => {
                // A frame header cut off (or with an absurd length): its size
                // fields may still be readable, and a bomb must be reported as such.
                if let Ok(f) = sof_size(marker, bytes.get(after + 2..).unwrap_or_default()) {
                    check_frame(&f)?;
                }
                return Err(PhotoError::malformed(
                    "the JPEG frame header runs past the end of the data",
                ));
            }
            Err(SegmentError::Truncated) if frame.is_some() => return Err(PhotoError::Truncated),
            Err(SegmentError::Truncated) => {
                return Err(PhotoError::malformed(
                    "a JPEG header segment runs past the end of the data",
                ))
            }
            Err(SegmentError::BadLength) => {
                return Err(PhotoError::malformed(
                    "a JPEG segment has an invalid length",
                ))
            }
        };
        match marker {
            m if is_sof(m) => {
                if frame.is_some() {
                    return Err(PhotoError::malformed(
                        "the JPEG has more than one frame header",
                    ));
                }
                // Size and coding are checked before the components are
                // validated, so a bomb with a garbage header is still a bomb.
                check_frame(&sof_size(m, payload)?)?;
                frame = Some(parse_sof(m, payload)?);
            }
            DRI => {
                let v = payload.get(0..2).ok_or_else(|| {
                    PhotoError::malformed("the JPEG restart interval segment is too short")
                })?;
                restart_interval = u16::from_be_bytes([v[0], v[1]]);
            }
            APP1 => {
                if exif.is_none() {
                    if let Some(tiff) = payload.strip_prefix(EXIF_PREFIX) {
                        exif = Some(tiff);
                    }
                }
                if xmp.is_none() {
                    if let Some(packet) = payload.strip_prefix(XMP_PREFIX) {
                        xmp = Some(packet);
                    }
                }
            }
            SOS => {
                let Some(frame) = frame else {
                    return Err(PhotoError::malformed(
                        "the JPEG has a scan before its frame header",
                    ));
                };
                return Ok(JpegHeaders {
                    frame,
                    exif,
                    xmp,
                    restart_interval,
                    first_sos: after - 2,
                });
            }
            _ => {}
        }
        pos = next;
    }
}

/// Units between restart markers in a scan: MCUs when the scan interleaves
/// components, otherwise blocks of its single component (ITU T.81 A.2).
fn scan_units(frame: &Frame, sos_payload: &[u8]) -> Result<u64, PhotoError> {
    let bad = || PhotoError::malformed("the JPEG scan header is invalid");
    let count = usize::from(*sos_payload.first().ok_or_else(bad)?);
    if count == 0 || count > 4 || sos_payload.len() < 1 + 2 * count + 3 {
        return Err(bad());
    }
    let (hmax, vmax) = frame.max_sampling();
    if count == 1 {
        let id = sos_payload[1];
        let c = frame
            .components
            .iter()
            .find(|c| c.id == id)
            .copied()
            .ok_or_else(bad)?;
        let (bw, bh) = component_blocks(frame, c, hmax, vmax);
        Ok(bw * bh)
    } else {
        let mcus_x = u64::from(frame.width).div_ceil(8 * hmax);
        let mcus_y = u64::from(frame.height).div_ceil(8 * vmax);
        Ok(mcus_x * mcus_y)
    }
}

/// Walks entropy-coded data from `from`. Returns the marker that ends it,
/// the offset of that marker's `0xFF`, and the number of RSTn markers seen;
/// `None` when the data ends first.
fn scan_entropy(bytes: &[u8], from: usize) -> Option<(u8, usize, u64)> {
    let mut p = from;
    let mut restarts = 0u64;
    loop {
        let ff = p + bytes.get(p..)?.iter().position(|&b| b == 0xFF)?;
        let mut q = ff + 1;
        while bytes.get(q) == Some(&0xFF) {
            q += 1;
        }
        match *bytes.get(q)? {
            0x00 => p = q + 1,
            0xD0..=0xD7 => {
                restarts += 1;
                p = q + 1;
            }
            m => return Some((m, q - 1, restarts)),
        }
    }
}

/// Markers that may follow a scan's entropy-coded data (tables, another
/// scan, EOI, DNL, APPn, COM). Anything else means the scan broke off.
fn legal_after_scan(marker: u8) -> bool {
    matches!(
        marker,
        0xC4 | 0xCC | SOS | EOI | 0xDB | 0xDC | DRI | 0xDE | 0xDF | APP0..=0xEF | COM
    )
}

/// Says whether the JPEG is whole. `image` 0.25 (zune-jpeg) fills missing data
/// with grey and reports success, so this is checked here:
///
/// 1. every scan's entropy-coded data must end with a marker, and that marker
///    must be one that can follow a scan (a stray `FF xx` means the data
///    broke off — libjpeg's "premature end of data segment");
/// 2. when a restart interval is set, each scan must contain the
///    `ceil(units / interval) − 1` restart markers its size implies (catches
///    a scan cut short and followed by an appended EOI);
/// 3. an EOI marker must follow the last scan.
///
/// A scan cut short and followed by an EOI *without* restart markers cannot
/// be told apart from a whole one without Huffman-decoding it; the decoder
/// then decodes zero bits for the missing part.
pub(crate) fn check_complete(
    bytes: &[u8],
    headers: &JpegHeaders<'_>,
) -> Result<Completeness, PhotoError> {
    let mut restart_interval = headers.restart_interval;
    let mut pos = headers.first_sos;
    loop {
        let Some((marker, after)) = next_marker(bytes, pos) else {
            return Ok(Completeness::Truncated(
                "the data ends before the end-of-image marker",
            ));
        };
        match marker {
            EOI => return Ok(Completeness::Complete),
            SOI => {
                return Ok(Completeness::Truncated(
                    "a new image starts before the end-of-image marker",
                ))
            }
            m if is_standalone(m) => {
                pos = after;
                continue;
            }
            _ => {}
        }
        let (payload, next) = match segment(bytes, after) {
            Ok(s) => s,
            Err(SegmentError::Truncated) => {
                return Ok(Completeness::Truncated(
                    "a segment runs past the end of the data",
                ))
            }
            Err(SegmentError::BadLength) => {
                return Err(PhotoError::malformed(
                    "a JPEG segment has an invalid length",
                ))
            }
        };
        match marker {
            DRI => {
                let v = payload.get(0..2).ok_or_else(|| {
                    PhotoError::malformed("the JPEG restart interval segment is too short")
                })?;
                restart_interval = u16::from_be_bytes([v[0], v[1]]);
            }
            SOS => {
                let units = scan_units(&headers.frame, payload)?;
                let Some((end_marker, end_pos, restarts)) = scan_entropy(bytes, next) else {
                    return Ok(Completeness::Truncated("the data ends inside a scan"));
                };
                if restart_interval > 0 {
                    let expected = units
                        .div_ceil(u64::from(restart_interval))
                        .saturating_sub(1);
                    if restarts < expected {
                        return Ok(Completeness::Truncated(
                            "a scan has fewer restart markers than its size requires",
                        ));
                    }
                }
                if !legal_after_scan(end_marker) {
                    return Ok(Completeness::Truncated(
                        "a scan is interrupted by an invalid marker",
                    ));
                }
                pos = end_pos;
                continue;
            }
            _ => {}
        }
        pos = next;
    }
}

/// Marker bytes of the APPn (`0xE0`–`0xEF`) and COM (`0xFE`) segments found
/// before the first scan of a JPEG, in file order. A plain JFIF `APP0`
/// (version, density, no thumbnail) carries no metadata and is not listed;
/// any other `APP0` (a JFIF thumbnail, JFXX) is. Empty for data that is not a JPEG.
pub fn metadata_segments(jpeg: &[u8]) -> Vec<u8> {
    let mut found = Vec::new();
    if !jpeg.starts_with(&[0xFF, SOI]) {
        return found;
    }
    let mut pos = 2;
    while let Some((marker, after)) = next_marker(jpeg, pos) {
        if marker == SOS || marker == EOI {
            break;
        }
        if is_standalone(marker) {
            pos = after;
            continue;
        }
        let Ok((payload, next)) = segment(jpeg, after) else {
            // A broken length: report the marker itself if it is metadata.
            if matches!(marker, APP0..=0xEF | COM) {
                found.push(marker);
            }
            break;
        };
        let plain_jfif = marker == APP0
            && payload.len() == 14
            && payload.starts_with(b"JFIF\0")
            && payload[12] == 0
            && payload[13] == 0;
        if matches!(marker, APP0..=0xEF | COM) && !plain_jfif {
            found.push(marker);
        }
        pos = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment with a correct length field.
    fn seg(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// SOF0 for a 3-component 4:2:0 image.
    fn sof(width: u16, height: u16) -> Vec<u8> {
        let mut p = vec![8];
        p.extend_from_slice(&height.to_be_bytes());
        p.extend_from_slice(&width.to_be_bytes());
        p.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        seg(0xC0, &p)
    }

    fn sos_all() -> Vec<u8> {
        seg(SOS, &[3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0])
    }

    fn build(parts: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![0xFF, SOI];
        for p in parts {
            v.extend_from_slice(p);
        }
        v
    }

    fn completeness(bytes: &[u8]) -> Completeness {
        let h = parse_headers(bytes, |_| Ok(())).expect("headers");
        check_complete(bytes, &h).expect("walk")
    }

    #[test]
    fn headers_give_frame_exif_and_xmp() {
        let mut exif = EXIF_PREFIX.to_vec();
        exif.extend_from_slice(b"MM\0*\0\0\0\x08");
        let mut xmp = XMP_PREFIX.to_vec();
        xmp.extend_from_slice(b"<x/>");
        let bytes = build(&[
            &seg(APP0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
            &seg(APP1, &exif),
            &seg(APP1, &xmp),
            &sof(640, 480),
            &sos_all(),
            &[1, 2, 3, 0xFF, 0x00, 4],
            &[0xFF, EOI],
        ]);
        let h = parse_headers(&bytes, |_| Ok(())).expect("headers");
        assert_eq!((h.frame.width, h.frame.height), (640, 480));
        assert_eq!(h.frame.unsupported_kind(), None);
        assert_eq!(h.exif, Some(&b"MM\0*\0\0\0\x08"[..]));
        assert_eq!(h.xmp, Some(&b"<x/>"[..]));
        assert_eq!(check_complete(&bytes, &h), Ok(Completeness::Complete));
        assert_eq!(metadata_segments(&bytes), vec![APP1, APP1]);
    }

    #[test]
    fn frame_check_runs_before_later_broken_segments() {
        // A bomb header followed by a segment that runs past the end.
        let mut bytes = build(&[&sof(65535, 65535)]);
        bytes.extend_from_slice(&[0xFF, 0xC4, 0x10, 0x00, 1, 2]);
        let err = parse_headers(&bytes, |f| {
            Err(PhotoError::too_large(format!("{}", f.width)))
        })
        .unwrap_err();
        assert!(matches!(err, PhotoError::TooLarge { .. }));
        assert_eq!(
            parse_headers(&bytes, |_| Ok(())).unwrap_err(),
            PhotoError::Truncated
        );
        // A frame header whose length runs past the end still has its size checked.
        let mut cut_sof = vec![0xFF, 0xD8, 0xFF, 0xCA, 0x01, 0xC4, 8];
        cut_sof.extend_from_slice(&17_993u16.to_be_bytes());
        cut_sof.extend_from_slice(&17_920u16.to_be_bytes());
        cut_sof.extend_from_slice(&[1, 1, 0x11, 0]);
        let err = parse_headers(&cut_sof, |f| {
            assert_eq!((f.width, f.height), (17_920, 17_993));
            Err(PhotoError::too_large("bomb"))
        })
        .unwrap_err();
        assert!(matches!(err, PhotoError::TooLarge { .. }));
        assert!(matches!(
            parse_headers(&cut_sof, |_| Ok(())),
            Err(PhotoError::Malformed(_))
        ));
        // Garbage component count after a bomb size: still a bomb.
        cut_sof[11] = 0x94;
        assert!(matches!(
            parse_headers(&cut_sof, |_| Err(PhotoError::too_large("bomb"))),
            Err(PhotoError::TooLarge { .. })
        ));
    }

    #[test]
    fn broken_headers_are_typed_errors() {
        for bytes in [
            vec![0xFF, 0xD8],
            vec![0xFF, 0xD8, 0xFF],
            vec![0xFF, 0xD8, 0xFF, 0xD9],
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00],
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01],
            build(&[&sos_all()]),
            build(&[&seg(0xC0, &[8, 0, 1])]),
            build(&[&seg(0xC0, &[8, 0, 1, 0, 1, 0])]),
            build(&[&seg(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x55, 0])]),
            build(&[&sof(8, 8), &sof(8, 8)]),
            build(&[&seg(DRI, &[0])]),
        ] {
            assert!(
                matches!(
                    parse_headers(&bytes, |_| Ok(())),
                    Err(PhotoError::Malformed(_))
                ),
                "{bytes:02X?}"
            );
        }
        assert!(matches!(
            parse_headers(b"\x89PNG", |_| Ok(())),
            Err(PhotoError::Malformed(_))
        ));
    }

    #[test]
    fn junk_and_fill_bytes_between_segments_are_skipped() {
        let bytes = build(&[
            b"junk",
            &[0xFF, 0xFF, 0xFF],
            &sof(16, 16)[1..], // fill bytes already provide the 0xFF
            &[0xFF, 0x00],
            &sos_all(),
            &[0x12, 0x34, 0xFF, 0xFF, 0xFF, EOI],
        ]);
        assert_eq!(completeness(&bytes), Completeness::Complete);
    }

    #[test]
    fn truncation_rules() {
        let whole = build(&[&sof(64, 64), &sos_all(), &[1, 2, 3], &[0xFF, EOI]]);
        assert_eq!(completeness(&whole), Completeness::Complete);

        // Data ends inside the scan.
        let cut = &whole[..whole.len() - 3];
        assert!(matches!(completeness(cut), Completeness::Truncated(_)));

        // Ends after the scan with only part of a following segment.
        let mut partial = build(&[&sof(64, 64), &sos_all(), &[1, 2, 3]]);
        partial.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x40, 1]);
        assert!(matches!(completeness(&partial), Completeness::Truncated(_)));

        // Progressive: second scan missing its EOI.
        let prog = build(&[
            &sof(64, 64),
            &sos_all(),
            &[1, 2],
            &seg(SOS, &[1, 1, 0, 1, 5, 0]),
            &[9, 9],
        ]);
        assert!(matches!(completeness(&prog), Completeness::Truncated(_)));

        // An invalid marker inside the entropy-coded data (scan broke off).
        let broken = build(&[&sof(64, 64), &sos_all(), &[1, 0xFF, 0x9F, 2], &[0xFF, EOI]]);
        assert!(matches!(completeness(&broken), Completeness::Truncated(_)));

        // A new SOI before EOI.
        let two = build(&[&sof(64, 64), &sos_all(), &[1], &[0xFF, SOI], &[0xFF, EOI]]);
        assert!(matches!(completeness(&two), Completeness::Truncated(_)));
    }

    #[test]
    fn restart_markers_are_counted() {
        // 64×64, 4:2:0 → 4×4 = 16 MCUs; interval 4 → 3 RST markers.
        let rst = |n: u8| [0x11, 0xFF, 0xD0 + (n % 8)];
        let mut full = Vec::new();
        for n in 0..3 {
            full.extend_from_slice(&rst(n));
        }
        full.push(0x22);
        let whole = build(&[
            &seg(DRI, &[0, 4]),
            &sof(64, 64),
            &sos_all(),
            &full,
            &[0xFF, EOI],
        ]);
        assert_eq!(completeness(&whole), Completeness::Complete);

        let short = build(&[
            &seg(DRI, &[0, 4]),
            &sof(64, 64),
            &sos_all(),
            &rst(0),
            &[0xFF, EOI],
        ]);
        assert!(matches!(completeness(&short), Completeness::Truncated(_)));

        // A single-component scan counts blocks of that component:
        // component 1 is 64×64 → 8×8 = 64 blocks; interval 16 → 3 RSTs.
        let mut three = Vec::new();
        for n in 0..3 {
            three.extend_from_slice(&rst(n));
        }
        let non_interleaved = build(&[
            &seg(DRI, &[0, 16]),
            &sof(64, 64),
            &seg(SOS, &[1, 1, 0, 0, 63, 0]),
            &three,
            &[0xFF, EOI],
        ]);
        assert_eq!(completeness(&non_interleaved), Completeness::Complete);
        let two_only = build(&[
            &seg(DRI, &[0, 16]),
            &sof(64, 64),
            &seg(SOS, &[1, 1, 0, 0, 63, 0]),
            &rst(0),
            &rst(1),
            &[0xFF, EOI],
        ]);
        assert!(matches!(
            completeness(&two_only),
            Completeness::Truncated(_)
        ));
    }

    #[test]
    fn unsupported_kinds_and_coefficients() {
        let mut f = parse_sof(0xC2, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]).expect("sof");
        assert!(f.is_progressive());
        assert_eq!(f.coefficient_bytes(), 4 * 64 * 2);
        assert_eq!(f.unsupported_kind(), None);
        f.precision = 12;
        assert_eq!(f.unsupported_kind(), Some("jpeg (12-bit)"));
        f.marker = 0xC9;
        assert_eq!(f.unsupported_kind(), Some("jpeg (arithmetic coding)"));
        f.marker = 0xC3;
        assert_eq!(f.unsupported_kind(), Some("jpeg (lossless)"));
    }

    #[test]
    fn metadata_segment_listing() {
        let bytes = build(&[
            &seg(APP0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
            &sof(8, 8),
            &sos_all(),
            &[0xFF, EOI],
        ]);
        assert!(metadata_segments(&bytes).is_empty());
        // A JFIF APP0 with a thumbnail, a COM and an APP13 are listed.
        let mut thumb = b"JFIF\0\x01\x02\0\0\x01\0\x01\x01\x01".to_vec();
        thumb.extend_from_slice(&[0, 0, 0]);
        let bytes = build(&[
            &seg(APP0, &thumb),
            &seg(COM, b"hi"),
            &seg(0xED, b"Photoshop 3.0\0"),
            &sof(8, 8),
            &sos_all(),
            &seg(COM, b"after the scan header: not listed"),
        ]);
        assert_eq!(metadata_segments(&bytes), vec![APP0, COM, 0xED]);
        assert!(metadata_segments(b"not a jpeg").is_empty());
        // Broken length on an APP segment is still reported.
        assert_eq!(
            metadata_segments(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00]),
            vec![APP1]
        );
    }
}
