//! Content sniffing: decide, from a bounded sample, whether compressing is worth trying.
//!
//! Already-compressed formats (images, archives, video) and encrypted data do not shrink; trying
//! costs CPU for nothing. The decision reads at most three 4 KiB windows (start, middle, end),
//! so its cost does not grow with the input:
//!
//! 1. A known magic number (PNG, JPEG, GIF, WebP, ZIP/DOCX/XLSX, GZIP, zstd, xz, bzip2, 7z,
//!    MP4/MOV/HEIC, PDF) names the format.
//! 2. The byte entropy of the sample (Shannon, bits per byte) decides. A known compressed
//!    format is stored when its sample is above [`KNOWN_FORMAT_THRESHOLD`] (a ZIP of stored,
//!    uncompressed entries still gets compressed); unknown content is stored above
//!    [`UNKNOWN_THRESHOLD`]. A PDF counts as unknown: its streams may or may not be compressed,
//!    and the entropy of the sample tells which.
//!
//! Sniffing is advice, never correctness: the compressor still stores a block as-is when zstd
//! did not make it smaller, so no input grows by more than the one marker byte.

/// Bytes in each sample window.
pub const WINDOW: usize = 4096;

/// Entropy (bits per byte) above which content with a known compressed-format magic is stored.
pub const KNOWN_FORMAT_THRESHOLD: f64 = 6.0;

/// Entropy (bits per byte) above which content of unknown format is stored. Random data
/// measures about 7.95 on a 12 KiB sample; deflate and JPEG data 7.8–7.99; base64 6.0; text and
/// JSON 4.5–5.5.
pub const UNKNOWN_THRESHOLD: f64 = 7.5;

/// Below this size the histogram of a sample says too little (100 random bytes measure only
/// about 6.5 bits): small inputs are simply tried.
const MIN_SAMPLE_FOR_ENTROPY: usize = 1024;

/// A format recognised by its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// GIF image.
    Gif,
    /// WebP image (RIFF container).
    WebP,
    /// ZIP archive, including DOCX, XLSX, PPTX, JAR.
    Zip,
    /// gzip stream.
    Gzip,
    /// zstd frame.
    Zstd,
    /// xz stream.
    Xz,
    /// bzip2 stream.
    Bzip2,
    /// 7-Zip archive.
    SevenZip,
    /// ISO base media file (MP4, MOV, HEIC, M4A): `ftyp` box at offset 4.
    Mp4,
    /// PDF document (its streams may or may not be compressed).
    Pdf,
}

impl Format {
    /// Whether the format's payload is normally compressed already.
    pub fn is_compressed(self) -> bool {
        !matches!(self, Format::Pdf)
    }
}

/// The format whose magic number `data` starts with.
pub fn detect_format(data: &[u8]) -> Option<Format> {
    const MAGICS: &[(&[u8], Format)] = &[
        (b"\x89PNG\r\n\x1a\n", Format::Png),
        (b"\xff\xd8\xff", Format::Jpeg),
        (b"GIF87a", Format::Gif),
        (b"GIF89a", Format::Gif),
        (b"PK\x03\x04", Format::Zip),
        (b"PK\x05\x06", Format::Zip),
        (b"PK\x07\x08", Format::Zip),
        (b"\x1f\x8b\x08", Format::Gzip),
        (b"\x28\xb5\x2f\xfd", Format::Zstd),
        (b"\xfd7zXZ\x00", Format::Xz),
        (b"7z\xbc\xaf\x27\x1c", Format::SevenZip),
        (b"%PDF-", Format::Pdf),
    ];
    if let Some((_, format)) = MAGICS.iter().find(|(magic, _)| data.starts_with(magic)) {
        return Some(*format);
    }
    if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        return Some(Format::WebP);
    }
    if data.len() >= 4 && data.starts_with(b"BZh") && (b'1'..=b'9').contains(&data[3]) {
        return Some(Format::Bzip2);
    }
    if data.len() >= 8 && &data[4..8] == b"ftyp" {
        return Some(Format::Mp4);
    }
    None
}

/// Why content is or is not worth compressing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sniff {
    /// The format recognised by magic number, if any.
    pub format: Option<Format>,
    /// Shannon entropy of the sample in bits per byte (0.0–8.0); `None` when the input was too
    /// small for the estimate to mean anything.
    pub entropy: Option<f64>,
    /// The decision: `true` to store as-is without trying zstd.
    pub store: bool,
}

/// Sniffs `data`: at most three [`WINDOW`]-byte windows are read, whatever its size.
pub fn sniff(data: &[u8]) -> Sniff {
    let format = detect_format(data);
    if data.len() < MIN_SAMPLE_FOR_ENTROPY {
        return Sniff {
            format,
            entropy: None,
            store: false,
        };
    }
    let entropy = sample_entropy(data);
    let threshold = match format {
        Some(f) if f.is_compressed() => KNOWN_FORMAT_THRESHOLD,
        _ => UNKNOWN_THRESHOLD,
    };
    Sniff {
        format,
        entropy: Some(entropy),
        store: entropy >= threshold,
    }
}

/// Shannon entropy in bits per byte of the start, middle and end windows of `data`
/// (all of `data` when it is at most three windows long).
pub fn sample_entropy(data: &[u8]) -> f64 {
    let mut histogram = Histogram::default();
    if data.len() <= 3 * WINDOW {
        histogram.add(data);
    } else {
        let middle = data.len() / 2 - WINDOW / 2;
        histogram.add(&data[..WINDOW]);
        histogram.add(&data[middle..middle + WINDOW]);
        histogram.add(&data[data.len() - WINDOW..]);
    }
    histogram.entropy()
}

/// Byte counts, kept in four interleaved tables so consecutive equal bytes do not serialise on
/// one counter (a store-to-load dependency that halves throughput on runs).
struct Histogram {
    counts: [[u32; 256]; 4],
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [[0; 256]; 4],
            total: 0,
        }
    }
}

impl Histogram {
    fn add(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(4);
        for chunk in &mut chunks {
            if let [a, b, c, d] = *chunk {
                self.counts[0][usize::from(a)] += 1;
                self.counts[1][usize::from(b)] += 1;
                self.counts[2][usize::from(c)] += 1;
                self.counts[3][usize::from(d)] += 1;
            }
        }
        for &byte in chunks.remainder() {
            self.counts[0][usize::from(byte)] += 1;
        }
        self.total += bytes.len() as u64;
    }

    fn entropy(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let total = self.total as f64;
        (0..256)
            .map(|i| {
                self.counts
                    .iter()
                    .map(|table| u64::from(table[i]))
                    .sum::<u64>()
            })
            .filter(|&count| count > 0)
            .map(|count| {
                let p = count as f64 / total;
                -p * p.log2()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(len: usize, mut state: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn magic_numbers() {
        let cases: &[(&[u8], Format)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", Format::Png),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Format::Jpeg),
            (b"GIF89a\x01\0", Format::Gif),
            (b"RIFF\x24\0\0\0WEBPVP8 ", Format::WebP),
            (b"PK\x03\x04\x14\0\x06\0", Format::Zip),
            (b"\x1f\x8b\x08\0\0\0\0\0", Format::Gzip),
            (b"\x28\xb5\x2f\xfd\x24\0", Format::Zstd),
            (b"\xfd7zXZ\0\0\x04", Format::Xz),
            (b"BZh91AY&SY", Format::Bzip2),
            (b"7z\xbc\xaf\x27\x1c\0\x04", Format::SevenZip),
            (b"\0\0\0\x20ftypisom\0\0\x02\0", Format::Mp4),
            (b"%PDF-1.7\n", Format::Pdf),
        ];
        for (data, format) in cases {
            assert_eq!(detect_format(data), Some(*format), "{format:?}");
        }
        assert_eq!(detect_format(b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(detect_format(b"BZh0"), None);
        assert_eq!(detect_format(b"{\"Id\":\"001\"}"), None);
        assert_eq!(detect_format(b""), None);
    }

    #[test]
    fn random_bytes_are_stored_and_text_is_not() {
        let random = pseudo_random(100_000, 0x1234_5678_9abc_def1);
        let verdict = sniff(&random);
        assert!(verdict.store);
        assert!(verdict.entropy.is_some_and(|e| e > 7.9));

        let text =
            "The customer asked for a renewal quote before the end of the quarter. ".repeat(2000);
        let verdict = sniff(text.as_bytes());
        assert!(!verdict.store);
        assert!(verdict.entropy.is_some_and(|e| e < 5.0));
    }

    #[test]
    fn known_format_with_low_entropy_body_is_compressed() {
        // A ZIP whose entries are stored uncompressed: magic, then plain text.
        let mut zip = b"PK\x03\x04\x14\0\0\0\0\0".to_vec();
        zip.extend(
            "plain text entry, stored without deflate. "
                .repeat(500)
                .as_bytes(),
        );
        let verdict = sniff(&zip);
        assert_eq!(verdict.format, Some(Format::Zip));
        assert!(!verdict.store);
        // The same header in front of random bytes is stored.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(pseudo_random(50_000, 7));
        assert!(sniff(&png).store);
    }

    #[test]
    fn pdf_is_judged_by_its_bytes() {
        let mut compressed = b"%PDF-1.7\n".to_vec();
        compressed.extend(pseudo_random(30_000, 99));
        assert!(sniff(&compressed).store);
        let plain = format!(
            "%PDF-1.4\n{}",
            "BT /F1 12 Tf 72 712 Td (Invoice) Tj ET\n".repeat(800)
        );
        assert!(!sniff(plain.as_bytes()).store);
    }

    #[test]
    fn small_inputs_are_always_tried() {
        let verdict = sniff(&pseudo_random(500, 3));
        assert_eq!(verdict.entropy, None);
        assert!(!verdict.store);
    }

    #[test]
    fn sample_is_bounded_and_covers_start_middle_end() {
        // Low-entropy everywhere except the three windows: the sample sees only the windows.
        let mut data = vec![b'a'; 10 * WINDOW];
        let noise = pseudo_random(WINDOW, 5);
        data[..WINDOW].copy_from_slice(&noise);
        let middle = data.len() / 2 - WINDOW / 2;
        data[middle..middle + WINDOW].copy_from_slice(&noise);
        let end = data.len() - WINDOW;
        data[end..].copy_from_slice(&noise);
        assert!(sample_entropy(&data) > 7.9);
    }
}
