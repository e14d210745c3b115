//! File bodies of ContentVersion and Attachment records: half compressible (text, CSV, JSON),
//! half not (random bytes behind real PNG, JPEG, ZIP/DOCX and PDF headers, the way compressed
//! payloads look to a compressor). Bodies are produced on demand from a per-file seed, so an org
//! of any size costs no memory for its files until they are read or written.

use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};

use crate::vocab::{FIRST_NAMES, LAST_NAMES, Zipf};

/// What a file body contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlobKind {
    /// Plain text drawn from the Zipf vocabulary (compressible).
    Text,
    /// A CSV export with a header row (compressible).
    Csv,
    /// A JSON document (compressible).
    Json,
    /// A PNG image: signature and IHDR, then incompressible bytes.
    Png,
    /// A JPEG image: SOI and JFIF APP0, incompressible bytes, EOI.
    Jpeg,
    /// A ZIP archive (also DOCX/XLSX): local-file-header magic, then incompressible bytes.
    Zip,
    /// A PDF whose streams are compressed: header, incompressible bytes, `%%EOF`.
    Pdf,
}

impl BlobKind {
    /// Every kind, in the order the generator cycles through them.
    pub const ALL: [BlobKind; 7] = [
        BlobKind::Text,
        BlobKind::Csv,
        BlobKind::Json,
        BlobKind::Png,
        BlobKind::Jpeg,
        BlobKind::Zip,
        BlobKind::Pdf,
    ];

    /// Whether a general-purpose compressor can shrink this kind of body.
    pub fn is_compressible(self) -> bool {
        matches!(self, BlobKind::Text | BlobKind::Csv | BlobKind::Json)
    }

    /// The file extension Salesforce reports (`FileExtension`).
    pub fn extension(self) -> &'static str {
        match self {
            BlobKind::Text => "txt",
            BlobKind::Csv => "csv",
            BlobKind::Json => "json",
            BlobKind::Png => "png",
            BlobKind::Jpeg => "jpg",
            BlobKind::Zip => "docx",
            BlobKind::Pdf => "pdf",
        }
    }

    /// The `FileType` value Salesforce reports on ContentVersion.
    pub fn file_type(self) -> &'static str {
        match self {
            BlobKind::Text => "TEXT",
            BlobKind::Csv => "CSV",
            BlobKind::Json => "JSON",
            BlobKind::Png => "PNG",
            BlobKind::Jpeg => "JPG",
            BlobKind::Zip => "WORD_X",
            BlobKind::Pdf => "PDF",
        }
    }

    /// The MIME type Salesforce reports on Attachment (`ContentType`).
    pub fn content_type(self) -> &'static str {
        match self {
            BlobKind::Text => "text/plain",
            BlobKind::Csv => "text/csv",
            BlobKind::Json => "application/json",
            BlobKind::Png => "image/png",
            BlobKind::Jpeg => "image/jpeg",
            BlobKind::Zip => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            BlobKind::Pdf => "application/pdf",
        }
    }
}

/// Everything needed to produce one file body again: its kind, exact size and seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobSpec {
    /// What the body contains.
    pub kind: BlobKind,
    /// Exact body length in bytes.
    pub size: usize,
    /// Seed of the body's own generator.
    pub seed: u64,
}

impl BlobSpec {
    /// Produces the body: exactly `size` bytes, the same for the same spec on every platform.
    pub(crate) fn body(&self, vocab: &Zipf) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut out = match self.kind {
            BlobKind::Text => text_body(&mut rng, vocab, self.size),
            BlobKind::Csv => csv_body(&mut rng, vocab, self.size),
            BlobKind::Json => json_body(&mut rng, vocab, self.size),
            BlobKind::Png => opaque_body(
                &mut rng,
                b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x04\x00\x00\x00\x03\x00\x08\x06\x00\x00\x00",
                b"\x00\x00\x00\x00IEND\xaeB`\x82",
                self.size,
            ),
            BlobKind::Jpeg => opaque_body(
                &mut rng,
                b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00",
                b"\xff\xd9",
                self.size,
            ),
            BlobKind::Zip => opaque_body(
                &mut rng,
                b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
                b"PK\x05\x06\x00\x00\x00\x00",
                self.size,
            ),
            BlobKind::Pdf => opaque_body(
                &mut rng,
                b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Filter /FlateDecode /Length 0 >>\nstream\n",
                b"\nendstream\nendobj\n%%EOF\n",
                self.size,
            ),
        };
        // Text and CSV overshoot by at most one line, and tiny sizes cut even headers: trim.
        out.truncate(self.size);
        out
    }
}

/// `head`, random bytes, `tail`, exactly `size` long (the head alone when `size` is tiny).
fn opaque_body(rng: &mut ChaCha8Rng, head: &[u8], tail: &[u8], size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    rng.fill_bytes(&mut out);
    let head_len = head.len().min(size);
    out[..head_len].copy_from_slice(&head[..head_len]);
    if size >= head.len() + tail.len() {
        out[size - tail.len()..].copy_from_slice(tail);
    }
    out
}

fn text_body(rng: &mut ChaCha8Rng, vocab: &Zipf, size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 200);
    while out.len() < size {
        let sentences = rng.random_range(2..=6);
        out.push_str(&vocab.paragraph(rng, sentences));
        out.push_str("\n\n");
    }
    out.into_bytes()
}

fn csv_body(rng: &mut ChaCha8Rng, vocab: &Zipf, size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 200);
    out.push_str("Id,First Name,Last Name,Email,Amount,Quantity,Status,Notes\n");
    let mut row = 1u64;
    while out.len() < size {
        let first = pick(rng, FIRST_NAMES);
        let last = pick(rng, LAST_NAMES);
        let cents = rng.random_range(100..10_000_000u64);
        out.push_str(&format!(
            "{row},{first},{last},{}.{}@example.com,{}.{:02},{},{},\"{}\"\n",
            first.to_lowercase(),
            last.to_lowercase(),
            cents / 100,
            cents % 100,
            rng.random_range(1..500u32),
            pick(rng, &["Open", "Shipped", "Closed", "Pending", "Returned"]),
            vocab.sentence(rng, 3, 9),
        ));
        row += 1;
    }
    out.into_bytes()
}

fn json_body(rng: &mut ChaCha8Rng, vocab: &Zipf, size: usize) -> Vec<u8> {
    const OPEN: &str = "{\"export\":\"line-items\",\"items\":[\n";
    const CLOSE: &str = "\n]}\n";
    let mut out = String::with_capacity(size + 400);
    out.push_str(OPEN);
    let mut line = 1u64;
    loop {
        let item = serde_json::json!({
            "line": line,
            "sku": format!("SKU-{:05}", rng.random_range(0..40_000u32)),
            "customer": format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)),
            "quantity": rng.random_range(1..100u32),
            "unitPrice": rng.random_range(100..500_000u64),
            "note": vocab.sentence(rng, 4, 12),
        })
        .to_string();
        let separator = if line == 1 { "" } else { ",\n" };
        if out.len() + separator.len() + item.len() + CLOSE.len() > size {
            break;
        }
        out.push_str(separator);
        out.push_str(&item);
        line += 1;
    }
    out.push_str(CLOSE);
    // Trailing whitespace keeps the document valid JSON at the exact requested size.
    while out.len() < size {
        out.push('\n');
    }
    out.into_bytes()
}

/// A uniformly chosen element of a non-empty constant list.
pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list.get(rng.random_range(0..list.len().max(1)))
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_exact_size_magic_and_are_deterministic() {
        let vocab = Zipf::new();
        for (i, kind) in BlobKind::ALL.iter().enumerate() {
            for size in [0usize, 5, 300, 70_000] {
                let spec = BlobSpec {
                    kind: *kind,
                    size,
                    seed: 40 + i as u64,
                };
                let body = spec.body(&vocab);
                assert_eq!(body.len(), size, "{kind:?} {size}");
                assert_eq!(body, spec.body(&vocab));
                if size >= 300 {
                    let magic: &[u8] = match kind {
                        BlobKind::Png => b"\x89PNG",
                        BlobKind::Jpeg => b"\xff\xd8\xff",
                        BlobKind::Zip => b"PK\x03\x04",
                        BlobKind::Pdf => b"%PDF",
                        BlobKind::Text | BlobKind::Csv | BlobKind::Json => b"",
                    };
                    assert!(body.starts_with(magic), "{kind:?}");
                }
            }
        }
    }

    #[test]
    fn json_bodies_parse() {
        let vocab = Zipf::new();
        for size in [400usize, 5_000, 64_000] {
            let body = BlobSpec {
                kind: BlobKind::Json,
                size,
                seed: 3,
            }
            .body(&vocab);
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(
                value["items"]
                    .as_array()
                    .is_some_and(|items| !items.is_empty())
            );
        }
    }

    #[test]
    fn compressible_kinds_are_text_and_others_are_not() {
        let vocab = Zipf::new();
        for kind in BlobKind::ALL {
            let body = BlobSpec {
                kind,
                size: 20_000,
                seed: 9,
            }
            .body(&vocab);
            // Distinct byte values: text stays within printable ASCII plus a few letters.
            let mut seen = [false; 256];
            body.iter().for_each(|&b| seen[usize::from(b)] = true);
            let distinct = seen.iter().filter(|s| **s).count();
            if kind.is_compressible() {
                assert!(distinct < 100, "{kind:?} has {distinct} byte values");
            } else {
                assert!(distinct > 250, "{kind:?} has {distinct} byte values");
            }
        }
    }
}
