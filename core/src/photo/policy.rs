//! What to keep and how large to render, per document kind.
use super::limits::PhotoLimits;
use crate::model::DocumentKind;

/// Processing choices for one photo.
///
/// Position and time are kept (or not) in [`PhotoMetadata`](super::PhotoMetadata)
/// only; the output images never carry metadata of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoPolicy {
    /// Keep the GPS position. TaxAssist: `false` (receipts and documents,
    /// often photographed in a resident's home); BearSighting and DamageReport: `true`.
    pub keep_position: bool,
    /// Keep the capture time (all kinds by default).
    pub keep_time: bool,
    /// Process a truncated image (flagged `truncated`) instead of refusing it.
    pub accept_truncated: bool,
    /// Longest edge of the display image in pixels; never upscaled. Default 2048.
    pub display_long_edge: u32,
    /// Longest edge of the thumbnail in pixels; never upscaled. Default 320.
    pub thumbnail_long_edge: u32,
    /// JPEG quality of both outputs, 1–100. Default 85.
    pub jpeg_quality: u8,
    /// UTC offset (minutes east) assumed when the camera wrote none and GPS
    /// cannot tell. Default +540 (JST).
    pub default_utc_offset_minutes: i32,
    pub limits: PhotoLimits,
}

impl PhotoPolicy {
    /// The default policy for photos attached to a document of `kind`.
    pub fn for_kind(kind: DocumentKind) -> Self {
        Self {
            keep_position: match kind {
                DocumentKind::TaxAssist | DocumentKind::AuditLog => false,
                DocumentKind::BearSighting | DocumentKind::DamageReport => true,
            },
            keep_time: true,
            accept_truncated: false,
            display_long_edge: 2048,
            thumbnail_long_edge: 320,
            jpeg_quality: 85,
            default_utc_offset_minutes: 540,
            limits: PhotoLimits::default(),
        }
    }

    /// Out-of-range settings brought into range: edges at least 1 pixel and
    /// at most 65 535 (a JPEG's limit), quality 1–100.
    pub(crate) fn display_edge(&self) -> u32 {
        self.display_long_edge.clamp(1, 65_535)
    }

    pub(crate) fn thumbnail_edge(&self) -> u32 {
        self.thumbnail_long_edge.clamp(1, 65_535)
    }

    pub(crate) fn quality(&self) -> u8 {
        self.jpeg_quality.clamp(1, 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_kind_defaults() {
        let tax = PhotoPolicy::for_kind(DocumentKind::TaxAssist);
        assert!(!tax.keep_position && tax.keep_time && !tax.accept_truncated);
        for kind in [DocumentKind::BearSighting, DocumentKind::DamageReport] {
            let p = PhotoPolicy::for_kind(kind);
            assert!(p.keep_position && p.keep_time);
            assert_eq!(
                (p.display_long_edge, p.thumbnail_long_edge, p.jpeg_quality),
                (2048, 320, 85)
            );
            assert_eq!(p.default_utc_offset_minutes, 540);
            assert_eq!(p.limits, PhotoLimits::default());
        }
        let mut odd = tax;
        odd.display_long_edge = 0;
        odd.jpeg_quality = 0;
        odd.thumbnail_long_edge = u32::MAX;
        assert_eq!(
            (odd.display_edge(), odd.quality(), odd.thumbnail_edge()),
            (1, 1, 65_535)
        );
    }
}
