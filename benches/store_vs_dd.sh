#!/usr/bin/env bash
# The baseline for the `store` bench: how fast this disk takes (and gives back) 8 MiB with
# `dd`, writing with conv=fsync as LocalFs's put does. Same directory as the bench by
# default (the target directory's tmp/, or COFFER_BENCH_DIR).
#
#   benches/store_vs_dd.sh            # 50 runs
#   RUNS=100 COFFER_BENCH_DIR=/data benches/store_vs_dd.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
base="${COFFER_BENCH_DIR:-$here/../target/tmp}"
runs="${RUNS:-50}"
mkdir -p "$base"
dir="$(mktemp -d "$base/store-vs-dd.XXXXXX")"
trap 'rm -rf "$dir"' EXIT

bytes=$((8 * 1024 * 1024))

# dd prints "... copied, SECONDS s, RATE"; take SECONDS, add them up.
seconds_of() { sed -n 's/.* copied, \([0-9.e-]*\) s,.*/\1/p'; }

total_write=0
total_read=0
for _ in $(seq "$runs"); do
    w=$(LC_ALL=C dd if=/dev/zero of="$dir/f" bs=8M count=1 conv=fsync 2>&1 | seconds_of)
    r=$(LC_ALL=C dd if="$dir/f" of=/dev/null bs=8M 2>&1 | seconds_of)
    total_write=$(awk -v a="$total_write" -v b="$w" 'BEGIN { print a + b }')
    total_read=$(awk -v a="$total_read" -v b="$r" 'BEGIN { print a + b }')
done

awk -v n="$runs" -v b="$bytes" -v w="$total_write" -v r="$total_read" -v d="$base" 'BEGIN {
    printf "dd on %s, %d runs of 8 MiB\n", d, n
    printf "write (conv=fsync): %.1f MiB/s  (%.2f ms per 8 MiB)\n", n * b / w / 1048576, w / n * 1000
    printf "read (page cache):  %.1f MiB/s  (%.2f ms per 8 MiB)\n", n * b / r / 1048576, r / n * 1000
}'
