#!/usr/bin/env bash
# Coffer, restic and borg on the same org (issue 11's benchmark).
#
# Serves a seeded org from coffer-sfsim (RECORDS records, FILE_BYTES of file bodies), backs it
# up with `coffer backup` through the Salesforce APIs, and backs up the same data written to
# files (`coffer-sfsim export`, the layout of `coffer-sfsim generate`) with restic and borg.
# Then changes the org (1% of records updated at random, 0.1% deleted, 0.5% created), exports
# it again over the same directory, and runs an incremental backup with each tool. Prints one
# Markdown table and the checks of the issue's targets; exits 1 when a target is missed.
#
#   benches/peers/run.sh            # the 250 MB org, then Coffer alone on a 4x org (memory)
#   SCALE=0 benches/peers/run.sh    # skip the 4x org
#   RECORDS=20000 FILE_BYTES=7000000 SCALE=0 benches/peers/run.sh   # a quick look
#
# restic and borg come from Debian's packages (installed when missing); peak memory is
# /usr/bin/time's maximum resident set size. Both peers run with their defaults (restic 0.14:
# repository v2, compression auto; borg 1.2: lz4), encrypted with a passphrase, as a user would.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RECORDS=${RECORDS:-150000}
FILE_BYTES=${FILE_BYTES:-50000000}
SEED=${SEED:-1}
SCALE=${SCALE:-4}
WORK=${WORK:-$(mktemp -d /tmp/coffer-peers.XXXXXX)}
export RESTIC_PASSWORD=coffer-peers BORG_PASSPHRASE=coffer-peers
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
BIN=$ROOT/target/release

log() { echo "peers: $*" >&2; }

install_peers() {
  if command -v restic >/dev/null && command -v borg >/dev/null && [ -x /usr/bin/time ]; then
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing restic, borgbackup and time from Debian's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq restic borgbackup time >/dev/null
}

# json FILE KEY: one top-level value of a JSON file.
json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# timed NAME CMD...: runs CMD, records wall seconds and peak KiB in $WORK/NAME.time.
timed() {
  local name=$1
  shift
  /usr/bin/time -o "$WORK/$name.time" -f "%e %M" "$@"
}
wall() { cut -d' ' -f1 "$WORK/$1.time"; }
rss_mib() { awk '{printf "%.0f", $2/1024}' "$WORK/$1.time"; }
# Bytes stored: the sum of the repository's file sizes (what an object store bills; directory
# entries, which differ between the tools' layouts, are not counted).
size_b() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}'; }
mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1e6}'; }

SIM_PID=""
stop_sim() {
  if [ -n "$SIM_PID" ]; then
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    SIM_PID=""
  fi
}
trap stop_sim EXIT

# start_sim RECORDS FILE_BYTES: serves a generated org; sets URL, CA, CLIENT_ID, SECRET.
start_sim() {
  local ready=$WORK/sim-ready.json
  rm -f "$ready"
  # The simulator stands in for Salesforce's servers, yet shares the two cores with the
  # backup it serves. Its memory is not measured, so its allocator keeps freed pages for
  # reuse (jemalloc's own 10 s decay), instead of returning them at once as the build's
  # setting for `coffer` does (.cargo/config.toml), which cost it a sixth of its CPU in faults.
  # (jemalloc is the process's malloc, unprefixed, so it reads MALLOC_CONF.)
  MALLOC_CONF=dirty_decay_ms:10000,muzzy_decay_ms:10000 \
    "$BIN/coffer-sfsim" serve --seed "$SEED" --records "$1" --file-bytes "$2" \
    --api-limit 10000000 --state-dir "$WORK/sim" >"$ready" &
  SIM_PID=$!
  for _ in $(seq 1 600); do
    [ -s "$ready" ] && break
    kill -0 "$SIM_PID" 2>/dev/null || { log "the simulator did not start"; exit 2; }
    sleep 0.5
  done
  [ -s "$ready" ] || { log "the simulator did not get ready in 300 s"; exit 2; }
  URL=$(json "$ready" instance_url)
  CA=$(json "$ready" ca_cert)
  CLIENT_ID=$(json "$ready" client_id)
  SECRET=$(json "$ready" client_secret)
}

coffer_backup() { # NAME REPO
  timed "$1" "$BIN/coffer" backup --repo "$2" --master-key-file "$WORK/master.key" --org bench \
    --instance-url "$URL" --client-id "$CLIENT_ID" --client-secret "$SECRET" --ca-cert "$CA" \
    --json >"$WORK/$1.json"
}

# back_up_all NAME: one backup of the org with each tool, timed as coffer-NAME, restic-NAME
# and borg-NAME.
back_up_all() {
  coffer_backup "coffer-$1" "$WORK/coffer"
  (cd "$WORK" && timed "restic-$1" restic backup --repo "$WORK/restic" -q data)
  (cd "$WORK" && timed "borg-$1" borg create "$WORK/borg::$1" data)
  sync
}

install_peers
log "building coffer and coffer-sfsim (release)"
(cd "$ROOT" && cargo build --release -q -p coffer-server -p coffer-sfsim)
mkdir -p "$WORK"
log "work directory $WORK"
openssl rand -base64 32 >"$WORK/master.key"
chmod 600 "$WORK/master.key"

log "serving $RECORDS records with $FILE_BYTES bytes of files"
start_sim "$RECORDS" "$FILE_BYTES"
"$BIN/coffer-sfsim" export --instance-url "$URL" --ca-cert "$CA" --out "$WORK/data" >"$WORK/export0.json"
ORG_BYTES=$(($(json "$WORK/export0.json" record_bytes) + $(json "$WORK/export0.json" blob_bytes)))
log "org: $(json "$WORK/export0.json" records) records, $(mb "$ORG_BYTES") MB as files"
sync

log "full backups"
"$BIN/coffer" init --repo "$WORK/coffer" --master-key-file "$WORK/master.key" >/dev/null
restic init --repo "$WORK/restic" -q
borg init --encryption=repokey-blake2 "$WORK/borg" 2>/dev/null
back_up_all full
C0=$(size_b "$WORK/coffer")
R0=$(size_b "$WORK/restic")
B0=$(size_b "$WORK/borg")

log "changing the org: 1% updated, 0.1% deleted, 0.5% created"
"$BIN/coffer-sfsim" mutate --instance-url "$URL" --ca-cert "$CA" --seed 7 \
  --update-pct 1 --delete-pct 0.1 --create-pct 0.5 >"$WORK/mutation.json"
"$BIN/coffer-sfsim" export --instance-url "$URL" --ca-cert "$CA" --out "$WORK/next" >/dev/null
# The files change as an exporter would change them: files whose content changed are
# rewritten in place, new ones added; unchanged files keep their inode and mtime.
(cd "$WORK/next" && find . -type f) | while read -r f; do
  if ! cmp -s "$WORK/next/$f" "$WORK/data/$f"; then
    cp "$WORK/next/$f" "$WORK/data/$f"
  fi
done
rm -rf "$WORK/next"
sync

log "incremental backups"
back_up_all incr
C1=$(size_b "$WORK/coffer")
R1=$(size_b "$WORK/restic")
B1=$(size_b "$WORK/borg")

log "cat-record"
ID=$(python3 -c 'import json,sys
lines=open(sys.argv[1]).read().splitlines()
print(json.loads(lines[len(lines)//2])["Id"])' "$WORK/data/records/Account.jsonl")
CAT_MS=$(python3 - "$BIN/coffer" "$WORK" "$ID" <<'PY'
import subprocess, sys, time
coffer, work, rid = sys.argv[1:]
args = [coffer, "cat-record", "--repo", f"{work}/coffer", "--master-key-file",
        f"{work}/master.key", "--org", "bench", "--object", "Account", "--id", rid]
runs = []
for _ in range(7):
    t = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    runs.append((time.monotonic() - t) * 1000)
runs.sort()
print(f"{runs[len(runs) // 2]:.1f}")
PY
)

SCALED_RSS=""
if [ "$SCALE" != 0 ]; then
  stop_sim
  log "Coffer alone on an org $SCALE times larger (peak memory)"
  start_sim $((RECORDS * SCALE)) $((FILE_BYTES * SCALE))
  "$BIN/coffer" init --repo "$WORK/coffer-x$SCALE" --master-key-file "$WORK/master.key" >/dev/null
  coffer_backup coffer-scaled "$WORK/coffer-x$SCALE"
  SCALED_RSS=$(rss_mib coffer-scaled)
fi
stop_sim

CF=$(wall coffer-full) RF=$(wall restic-full) BF=$(wall borg-full)
CI=$(wall coffer-incr) RI=$(wall restic-incr) BI=$(wall borg-incr)
echo
echo "Org: $(json "$WORK/export0.json" records) records and $(json "$WORK/export0.json" blobs) files," \
  "$(mb "$ORG_BYTES") MB as files (seed $SEED); change: $(json "$WORK/mutation.json" updated) updated, $(json "$WORK/mutation.json" deleted) deleted, $(json "$WORK/mutation.json" created) created."
echo
echo "| | Coffer | restic $(restic version | cut -d' ' -f2) | borg $(borg --version | cut -d' ' -f2) |"
echo "|---|---:|---:|---:|"
echo "| full backup, wall (s) | $CF | $RF | $BF |"
echo "| full backup, peak RSS (MiB) | $(rss_mib coffer-full) | $(rss_mib restic-full) | $(rss_mib borg-full) |"
echo "| repository after full (MB) | $(mb "$C0") | $(mb "$R0") | $(mb "$B0") |"
echo "| incremental backup, wall (s) | $CI | $RI | $BI |"
echo "| bytes added by incremental (MB) | $(mb $((C1 - C0))) | $(mb $((R1 - R0))) | $(mb $((B1 - B0))) |"
echo "| cat-record, median of 7 (ms) | $CAT_MS | | |"
[ -n "$SCALED_RSS" ] && echo "| full backup of the ${SCALE}x org, peak RSS (MiB) | $SCALED_RSS | | |"
echo

FAILED=0
check() { # DESCRIPTION CONDITION(awk)
  if awk "BEGIN{exit !($2)}"; then echo "ok:     $1"; else echo "MISSED: $1"; FAILED=1; fi
}
check "full backup wall $CF s <= restic's $RF s" "$CF <= $RF"
check "repository $(mb "$C0") MB <= 90% of restic's $(mb "$R0") MB" "$C0 <= 0.9 * $R0"
check "incremental adds $(mb $((C1 - C0))) MB <= 5% of restic's $(mb $((R1 - R0))) MB" "$((C1 - C0)) <= 0.05 * $((R1 - R0))"
check "incremental wall $CI s <= 25% of the full backup's $CF s" "$CI <= 0.25 * $CF"
check "full backup peak RSS $(rss_mib coffer-full) MiB <= 256 MiB" "$(rss_mib coffer-full) <= 256"
if [ -n "$SCALED_RSS" ]; then
  check "${SCALE}x org peak RSS $SCALED_RSS MiB <= 120% of $(rss_mib coffer-full) MiB" "$SCALED_RSS <= 1.2 * $(rss_mib coffer-full)"
fi
check "cat-record $CAT_MS ms < 50 ms" "$CAT_MS < 50"
log "work directory kept: $WORK"
exit $FAILED
