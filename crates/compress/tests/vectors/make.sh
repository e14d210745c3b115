#!/usr/bin/env bash
# Rebuilds the test vectors with the reference zstd command-line tool (not with this crate), so
# the decoder is checked against an independent encoder. Needs: zstd >= 1.4, python3, sha256sum.
# Usage: tests/vectors/make.sh   (from crates/compress). The committed files are the contract:
# rebuilding may change the compressed bytes (another zstd version) but never the plaintexts.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Plaintexts.
python3 - <<'PY'
import json
records = [
    {"attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/001A00000{i:05d}AAA"},
     "Id": f"001A00000{i:05d}AAA", "Name": f"Vector Account {i}", "Industry": ["Energy", "Retail", "Banking"][i % 3],
     "AnnualRevenue": i * 1500.0, "BillingCity": ["Boston", "Austin", "Paris"][i % 3]}
    for i in range(40)
]
with open("records.plain", "w") as f:
    f.write("\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n")
with open("stored.plain", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + bytes((i * 151 + 7) % 256 for i in range(200)))
PY

# Block 0x00: marker then the bytes.
{ printf '\x00'; cat stored.plain; } > stored.block

# Block 0x01: marker then one zstd frame with content size and checksum (-C), no dictionary.
zstd -q -3 -C -c records.plain > "$work/frame"
{ printf '\x01'; cat "$work/frame"; } > zstd.block

# Block 0x02: a dictionary trained by zstd, serialized as 0x01 || zstd dictionary; the block is
# marker || SHA-256(serialized dictionary) || frame made with that dictionary.
mkdir "$work/samples"
python3 - "$work/samples" <<'PY'
import json, sys
for i in range(400):
    r = {"attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/001B00000{i:05d}AAA"},
         "Id": f"001B00000{i:05d}AAA", "Name": f"Sample Account {i * 37 % 1000}",
         "Industry": ["Energy", "Retail", "Banking", "Media"][i % 4], "AnnualRevenue": i * 250.0,
         "BillingCity": ["Boston", "Austin", "Paris", "Tokyo"][i % 4]}
    open(f"{sys.argv[1]}/{i}.json", "w").write(json.dumps(r, separators=(",", ":")))
PY
zstd -q --train "$work"/samples/*.json --maxdict=4096 -o "$work/zstd.dict"
{ printf '\x01'; cat "$work/zstd.dict"; } > dictionary.bin
zstd -q -3 -C -D "$work/zstd.dict" -c records.plain > "$work/dframe"
sha256sum dictionary.bin | cut -c1-64 > dictionary.sha256
{ printf '\x02'; python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex(open('dictionary.sha256').read().strip()))"; cat "$work/dframe"; } > zstd-dictionary.block
ls -l
