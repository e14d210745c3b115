//! `coffer-compress` on its own: train a dictionary for one object type, compress record
//! blocks with it, decompress them under limits, and watch already-compressed content and a
//! decompression bomb being handled.
//!
//! ```text
//! cargo run -p coffer-examples --example compress
//! ```

use std::io::Read;
use std::sync::Arc;

use coffer_compress::{
    Compressor, Decompressor, DictionarySet, Error, Level, Limits, Method, compress_stream,
    decompress_stream, dict, inspect,
};

/// JSON lines shaped like REST Contact records (coffer-sfsim makes realistic ones; this keeps
/// the example free of other crates).
fn contacts(from: u32, count: u32) -> Vec<String> {
    let first = ["Ana", "Ben", "Chen", "Dana", "Eli", "Farah", "Gus", "Hana"];
    let last = [
        "Smith", "Garcia", "Nguyen", "Okafor", "Rossi", "Tanaka", "Novak",
    ];
    let titles = ["CFO", "Buyer", "IT Manager", "VP, Sales", "Engineer"];
    (from..from + count)
        .map(|i| {
            let h = i.wrapping_mul(2_654_435_761);
            let (f, l) = (first[h as usize % first.len()], last[(h >> 8) as usize % last.len()]);
            format!(
                r#"{{"attributes":{{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/003Dn00000{i:05}AAE"}},"Id":"003Dn00000{i:05}AAE","FirstName":"{f}","LastName":"{l}","Email":"{}.{}@example.com","Title":"{}","MailingPostalCode":"{:05}","CreatedDate":"2024-{:02}-{:02}T{:02}:{:02}:00.000+0000"}}"#,
                f.to_lowercase(),
                l.to_lowercase(),
                titles[(h >> 16) as usize % titles.len()],
                h % 100_000,
                1 + h % 12,
                1 + (h >> 4) % 28,
                (h >> 9) % 24,
                (h >> 13) % 60,
            )
        })
        .collect()
}

fn main() -> Result<(), Error> {
    // 1. Train on records of one object type, from an earlier run.
    let dictionary = Arc::new(dict::from_samples(&contacts(0, 5000), 32 * 1024)?);
    println!(
        "dictionary {} ({} bytes)",
        dictionary.id(),
        dictionary.zstd_bytes().len()
    );

    // 2. Compress today's records in blocks; one compressor per thread, reused.
    let mut compressor = Compressor::with_dictionary(Level::DEFAULT, dictionary.clone())?;
    let mut plain = Compressor::new(Level::DEFAULT)?;
    let records = contacts(100_000, 2000);
    let blocks: Vec<Vec<u8>> = records
        .chunks(100)
        .map(|chunk| compressor.compress(chunk.join("\n").as_bytes()))
        .collect::<Result<_, _>>()?;
    let input: usize = records.chunks(100).map(|c| c.join("\n").len()).sum();
    let with_dict: usize = blocks.iter().map(Vec::len).sum();
    let without: usize = records
        .chunks(100)
        .map(|c| plain.compress(c.join("\n").as_bytes()).map(|b| b.len()))
        .sum::<Result<_, _>>()?;
    println!(
        "{} blocks: {input} bytes -> {with_dict} with dictionary ({:.1}:1), {without} without ({:.1}:1)",
        blocks.len(),
        input as f64 / with_dict as f64,
        input as f64 / without as f64
    );

    // 3. Decompress under limits; the block names its dictionary.
    let dictionaries: DictionarySet = [dictionary].into_iter().collect();
    let mut decompressor = Decompressor::new(Limits::new(4 << 20).with_max_ratio(500))?;
    for (block, chunk) in blocks.iter().zip(records.chunks(100)) {
        assert_eq!(
            decompressor.decompress(block, &dictionaries)?,
            chunk.join("\n").as_bytes()
        );
    }
    match decompressor.decompress(&blocks[0], &DictionarySet::new()) {
        Err(Error::DictionaryMissing(id)) => println!("without its dictionary: missing {id}"),
        other => println!("unexpected: {other:?}"),
    }

    // 4. A JPEG is stored as-is (one marker byte), not recompressed.
    let jpeg: Vec<u8> = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
        .iter()
        .copied()
        .chain((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 17) as u8))
        .collect();
    let stored = plain.compress(&jpeg)?;
    println!(
        "jpeg: {} bytes -> {} bytes ({:?})",
        jpeg.len(),
        stored.len(),
        inspect(&stored)?.method
    );
    assert_eq!(inspect(&stored)?.method, Method::Stored);

    // 5. A decompression bomb: 512 MiB of zeros in a few KiB, refused before allocating.
    let mut bomb = Vec::new();
    compress_stream(
        std::io::repeat(0).take(512 << 20),
        &mut bomb,
        Level::DEFAULT,
        Some(512 << 20),
    )?;
    println!(
        "bomb: {} bytes declaring {} bytes",
        bomb.len(),
        inspect(&bomb)?.decompressed_size
    );
    match decompressor.decompress(&bomb, &DictionarySet::new()) {
        Err(error @ Error::OutputTooLarge { .. }) => println!("block decoder: {error}"),
        other => println!("unexpected: {other:?}"),
    }
    let mut sink = Vec::new();
    match decompress_stream(bomb.as_slice(), &mut sink, &Limits::new(64 << 20)) {
        Err(error) => println!("stream decoder: {error} ({} bytes written)", sink.len()),
        Ok(n) => println!("unexpected: decoded {n} bytes"),
    }
    Ok(())
}
