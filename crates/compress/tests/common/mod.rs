//! Inputs of every class the codec must handle, built deterministically.

#![allow(dead_code)]

/// xorshift64: deterministic incompressible bytes.
pub(crate) fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// `prefix` followed by random bytes up to `len`.
pub(crate) fn with_magic(prefix: &[u8], len: usize, seed: u64) -> Vec<u8> {
    let mut data = prefix.to_vec();
    data.extend(random_bytes(len.saturating_sub(prefix.len()), seed));
    data
}

/// JSON lines shaped like Salesforce REST records, varied per record.
pub(crate) fn json_records(count: usize, seed: u64) -> Vec<String> {
    let words = [
        "renewal",
        "quote",
        "customer",
        "support",
        "meeting",
        "pricing",
        "contract",
        "the",
        "and",
        "for",
        "with",
        "team",
        "onboarding",
        "invoice",
        "follow",
        "up",
    ];
    let cities = ["Boston", "Austin", "Paris", "Tokyo", "Berlin", "Chicago"];
    let noise = random_bytes(count * 16, seed);
    (0..count)
        .map(|i| {
            let n = &noise[i * 16..i * 16 + 16];
            let description: Vec<&str> =
                n[..8].iter().map(|b| words[usize::from(*b) % words.len()]).collect();
            format!(
                r#"{{"attributes":{{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001Dn{:010}AAE"}},"Id":"001Dn{:010}AAE","IsDeleted":false,"Name":"Account {} {}","BillingCity":"{}","AnnualRevenue":{}.0,"NumberOfEmployees":{},"Description":"{}","CreatedDate":"2024-0{}-1{}T0{}:2{}:00.000+0000"}}"#,
                i,
                i,
                n[8],
                n[9],
                cities[usize::from(n[10]) % cities.len()],
                u32::from(n[11]) * 1000 + u32::from(n[12]),
                u32::from(n[13]) * 3,
                description.join(" "),
                1 + n[14] % 9,
                n[15] % 10,
                n[14] % 10,
                n[15] % 6,
            )
        })
        .collect()
}

/// Named inputs covering every class: empty, tiny, text, records, repetitive, random,
/// already-compressed formats by magic number, PDFs both ways, medium entropy.
pub(crate) fn input_classes() -> Vec<(&'static str, Vec<u8>)> {
    let records = json_records(300, 5).join("\n").into_bytes();
    let csv: String = (0..2000)
        .map(|i| format!("{i},Smith,{},{}.50,Open\n", i * 7 % 13, i * 3))
        .collect();
    let base64ish: Vec<u8> = random_bytes(40_000, 77)
        .iter()
        .map(|b| {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [usize::from(*b) % 64]
        })
        .collect();
    let mut stored_zip = b"PK\x03\x04\x14\0\0\0\0\0".to_vec();
    stored_zip.extend(
        "an uncompressed zip entry with plain text. "
            .repeat(400)
            .as_bytes(),
    );
    vec![
        ("empty", Vec::new()),
        ("one byte", vec![b'x']),
        ("short text", b"Call back re: renewal quote".to_vec()),
        ("json records", records),
        ("csv", csv.into_bytes()),
        ("zeros", vec![0u8; 1 << 20]),
        ("random", random_bytes(100_000, 1)),
        ("random small", random_bytes(300, 2)),
        (
            "png",
            with_magic(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 70_000, 3),
        ),
        (
            "jpeg",
            with_magic(b"\xff\xd8\xff\xe0\0\x10JFIF\0", 50_000, 4),
        ),
        ("gif", with_magic(b"GIF89a\x40\x01\xf0\0", 20_000, 5)),
        ("webp", with_magic(b"RIFF\x00\x10\0\0WEBPVP8 ", 30_000, 6)),
        (
            "docx",
            with_magic(b"PK\x03\x04\x14\0\x06\0\x08\0", 90_000, 7),
        ),
        (
            "gzip",
            with_magic(b"\x1f\x8b\x08\0\0\0\0\0\0\x03", 25_000, 8),
        ),
        (
            "mp4",
            with_magic(b"\0\0\0\x20ftypisom\0\0\x02\0", 120_000, 9),
        ),
        (
            "pdf compressed",
            with_magic(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 60_000, 10),
        ),
        (
            "pdf plain",
            format!(
                "%PDF-1.4\n{}",
                "BT /F1 12 Tf 72 712 Td (Invoice 42) Tj ET\n".repeat(600)
            )
            .into_bytes(),
        ),
        ("zip of stored text", stored_zip),
        ("base64", base64ish),
    ]
}
