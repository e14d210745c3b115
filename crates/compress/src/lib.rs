//! Compression for everything Coffer stores: zstd with content sniffing so already-compressed
//! data is stored as-is, per-object-type record dictionaries, and decompression-bomb limits.
//!
//! The crate does no I/O of its own (streams take any `Read`/`Write`) and is synchronous.
//!
//! # Getting started
//!
//! ```
//! use std::sync::Arc;
//! use coffer_compress::{dict, Compressor, Decompressor, DictionarySet, Level, Limits, Method};
//!
//! // Train a dictionary on sample records of one object type (here: synthetic Accounts).
//! let samples: Vec<String> = (0..2000)
//!     .map(|i| format!(r#"{{"attributes":{{"type":"Account"}},"Id":"001A{i:011}","Name":"Acme {}","Industry":"{}","AnnualRevenue":{}}}"#,
//!         i * 7919 % 1000, ["Energy", "Retail", "Banking"][i % 3], i * 1000))
//!     .collect();
//! let dictionary = Arc::new(dict::from_samples(&samples, 16 * 1024)?);
//!
//! // Compress a block of records with it; keep the compressor (it reuses its zstd context).
//! let mut compressor = Compressor::with_dictionary(Level::DEFAULT, dictionary.clone())?;
//! let records = samples[..100].join("\n");
//! let block = compressor.compress(records.as_bytes())?;
//! assert!(block.len() * 5 < records.len());
//! assert_eq!(coffer_compress::inspect(&block)?.dictionary, Some(dictionary.id()));
//!
//! // Decompress under limits, with the dictionaries the blocks may name.
//! let dictionaries: DictionarySet = [dictionary].into_iter().collect();
//! let mut decompressor = Decompressor::new(Limits::new(16 << 20).with_max_ratio(1000))?;
//! assert_eq!(decompressor.decompress(&block, &dictionaries)?, records.as_bytes());
//!
//! // Already-compressed content is stored as-is, one marker byte added.
//! let png: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied()
//!     .chain((0u32..50_000).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8))
//!     .collect();
//! let mut plain = Compressor::new(Level::DEFAULT)?;
//! let mut stored = Vec::new();
//! assert_eq!(plain.compress_into(&png, &mut stored)?, Method::Stored);
//! assert_eq!(stored.len(), png.len() + 1);
//! # Ok::<(), coffer_compress::Error>(())
//! ```
//!
//! # Design
//!
//! - **One stored format** for blocks and streams, versioned by its first byte and written down
//!   in `docs/format/compression.md`: `0x00` stored, `0x01` zstd frame, `0x02` dictionary id +
//!   zstd frame. Frames always carry their content size and a content checksum.
//! - **Sniff, then try.** [`sniff`] reads at most three 4 KiB windows: known compressed formats
//!   and high-entropy (encrypted, random) content skip zstd. Whatever zstd does not shrink is
//!   stored anyway, so no block is more than one byte larger than its input.
//! - **Dictionaries are content-addressed.** A [`Dictionary`]'s id is the SHA-256 of its bytes;
//!   a dictionary block names it; decoding checks that the set holds it
//!   ([`Error::DictionaryMissing`]) and that the frame's zstd dictionary id agrees
//!   ([`Error::DictionaryMismatch`]). Retraining makes a new dictionary; old blocks keep theirs.
//! - **Limits before allocation.** A [`Decompressor`] reads the declared size from the frame
//!   header and checks it against [`Limits`] (total and ratio) before reserving output; frames
//!   without a declared size are refused. Streams check as they go and bound the decoder window.
//! - **Reuse.** [`Compressor`] and [`Decompressor`] keep their zstd contexts (and a dictionary's
//!   digested tables) across blocks; create one per thread and keep it.
//!
//! Compression is not authentication: callers seal blocks with `coffer-envelope` after
//! compressing and open them before decompressing. The checksum here catches bugs and wrong
//! dictionaries, not tampering.

mod block;
pub mod dict;
mod error;
mod format;
mod limits;
pub mod sniff;
mod stream;

pub use block::{Compressor, Decompressor, Level, compress, decompress};
pub use dict::{Dictionary, DictionaryId, DictionarySet};
pub use error::{Error, Result};
pub use format::{BlockInfo, Method, inspect};
pub use limits::Limits;
pub use stream::{StreamSummary, compress_stream, decompress_stream};
