//! Peak memory of streaming is independent of the object size (issue 4's claim).
//!
//! Not a timing benchmark. It streams objects of 1 MiB, 64 MiB and 1 GiB through a `Sealer`
//! whose output an `Opener` reads back at once (single-threaded: the opener's source seals the
//! next piece of plaintext whenever it runs dry, so at most a couple of sealed segments are ever
//! queued and nothing is stored), checks the plaintext, and reports the process's peak resident
//! set size (`VmHWM` from `/proc/self/status`, Linux only) after each. Peak RSS never goes down,
//! so if it does not rise from the 1 MiB run to the 1 GiB run, streaming 1 GiB cost no more
//! memory than streaming 1 MiB. It exits non-zero if it rose by more than one 64 KiB segment.
//! With `--test` (as `cargo bench -- --test` passes) the sizes are 1, 4 and 16 MiB.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;
use std::rc::Rc;

use coffer_envelope::{Config, DataKey, Opener, Sealer};

const CONTEXT: &[u8] = b"org=00D000000000001;path=blobs/big;purpose=blob";
/// 251 * 261 bytes of the repeating pattern: about one 64 KiB segment per write.
const BLOCK: usize = 251 * 261;

type Pipe = Rc<RefCell<VecDeque<u8>>>;

/// The sealer's sink: sealed bytes wait here until the opener reads them.
struct PipeWriter(Pipe);

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The opener's source: hands out queued sealed bytes, sealing more plaintext when empty.
struct SealingSource<'a> {
    sealer: Option<Sealer<PipeWriter>>,
    pipe: Pipe,
    block: &'a [u8],
    written: usize,
    len: usize,
}

impl Read for SealingSource<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let queued = self.pipe.borrow_mut().read(out)?;
            if queued > 0 || out.is_empty() {
                return Ok(queued);
            }
            let Some(sealer) = self.sealer.as_mut() else {
                return Ok(0); // finished and drained
            };
            if self.written == self.len {
                if let Some(sealer) = self.sealer.take() {
                    sealer.finish()?;
                }
                continue;
            }
            // Offsets into `block` keep the pattern continuous across writes (251 divides it).
            let start = self.written % self.block.len();
            let n = (self.len - self.written).min(self.block.len() - start);
            sealer.write_all(&self.block[start..start + n])?;
            self.written += n;
        }
    }
}

fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

/// Streams `len` bytes through seal and open; returns the bytes opened after checking them.
fn stream_through(key: &DataKey, block: &[u8], len: usize) -> usize {
    let pipe = Pipe::default();
    let sealer = Config::new()
        .sealer(key, b"dek", CONTEXT, PipeWriter(Rc::clone(&pipe)))
        .unwrap();
    let source = SealingSource {
        sealer: Some(sealer),
        pipe,
        block,
        written: 0,
        len,
    };
    let mut opener = Opener::new(key, CONTEXT, source).unwrap();
    let mut opened = 0;
    loop {
        let segment = opener.fill_buf().unwrap();
        if segment.is_empty() {
            return opened;
        }
        for (i, &byte) in segment.iter().enumerate().step_by(4093) {
            assert_eq!(byte, pattern(opened + i));
        }
        let n = segment.len();
        opened += n;
        opener.consume(n);
    }
}

fn main() -> ExitCode {
    let sizes: [usize; 3] = if coffer_benches::smoke() {
        [1 << 20, 4 << 20, 16 << 20]
    } else {
        [1 << 20, 64 << 20, 1 << 30]
    };
    let key = DataKey::generate().unwrap();
    let block: Vec<u8> = (0..BLOCK).map(pattern).collect();

    let Some(before) = coffer_benches::peak_rss_kib() else {
        println!("envelope_memory: /proc/self/status VmHWM unavailable; nothing measured");
        return ExitCode::SUCCESS;
    };
    println!("envelope_memory: peak RSS before streaming: {before} KiB");
    let mut peaks = Vec::new();
    for len in sizes {
        assert_eq!(stream_through(&key, &block, len), len);
        let peak = coffer_benches::peak_rss_kib().unwrap_or(0);
        println!(
            "envelope_memory: peak RSS after streaming {:>4} MiB: {peak} KiB",
            len >> 20
        );
        peaks.push(peak);
    }
    let growth = peaks[2].saturating_sub(peaks[0]);
    println!(
        "envelope_memory: growth from {} MiB to {} MiB: {growth} KiB",
        sizes[0] >> 20,
        sizes[2] >> 20
    );
    if growth > 64 {
        println!("envelope_memory: FAIL: peak memory grew with the object size");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
