//! `coffer-envelope` on its own: seal a file-sized buffer with the streaming API, then open it
//! again.
//!
//! ```text
//! cargo run -p coffer-examples --example envelope
//! ```

use std::io::{self, Read, Write};

use coffer_envelope::{DataKey, Error, Header, Opener, Suite};

fn main() -> Result<(), Error> {
    // In Coffer the key ring supplies the data key and a key reference naming it (KEK id and
    // version plus the wrapped key); here both are made up on the spot.
    let key = DataKey::generate()?;
    let key_ref = b"kek=org-00D000000000001/v1;dek=example";
    let context = b"org=00D000000000001;path=blobs/report.pdf;purpose=blob";
    let file: Vec<u8> = (0..3_000_000_u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();

    // Seal: the header goes out at once, then one sealed segment per 64 KiB of input.
    let config = coffer_envelope::Config::new().with_suite(Suite::Aes256Gcm);
    let mut sealer = config.sealer(&key, key_ref, context, Vec::new())?;
    io::copy(&mut file.as_slice(), &mut sealer)?;
    let envelope = sealer.finish()?;

    // Open: read the header first to learn which key to fetch, then stream the plaintext.
    let mut source = envelope.as_slice();
    let header = Header::read_from(&mut source)?;
    assert_eq!(header.key_ref(), key_ref);
    let mut opener = Opener::with_header(header, &key, context, source)?;
    let mut restored = Vec::new();
    opener.read_to_end(&mut restored)?;
    assert_eq!(restored, file);

    let mut out = io::stdout().lock();
    writeln!(
        out,
        "sealed {} bytes into {} ({} segments of {} KiB, {}), opened them back intact",
        file.len(),
        envelope.len(),
        file.len().div_ceil(config.segment_size() as usize),
        config.segment_size() / 1024,
        config.suite().name(),
    )?;
    Ok(())
}
