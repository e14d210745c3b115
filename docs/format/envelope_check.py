#!/usr/bin/env python3
"""Independent check of the coffer-envelope v1 test vectors.

Implements the format from docs/format/envelope.md alone, with Python's `cryptography`
package, and checks crates/envelope/tests/vectors/envelope_v1.json against it:

- every valid vector: recompute payload key, commitment, header and envelope from the inputs,
  and open the envelope back to the plaintext;
- every invalid vector: opening must fail with the expected error class.

Usage: python3 docs/format/envelope_check.py [path/to/envelope_v1.json]
Exit status 0 if everything matched.
"""

import hashlib
import hmac
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"CFENV"
VERSION = 1
SUITES = {1: AESGCM, 2: ChaCha20Poly1305}
MIN_SEGMENT, MAX_SEGMENT = 16, 1 << 24
TAG = 16
PAYLOAD_LABEL = b"coffer-envelope v1 payload key"
COMMITMENT_LABEL = b"coffer-envelope v1 key commitment"


class EnvelopeError(Exception):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


def hkdf(key, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def derive(key, header_prefix, context):
    """(payload_key, commitment) for a header without its commitment (section 3)."""
    salt = header_prefix[-32:]
    t_payload = hashlib.sha256(header_prefix[:11] + context).digest()
    t_commitment = hashlib.sha256(header_prefix + context).digest()
    return (
        hkdf(key, salt, PAYLOAD_LABEL + t_payload),
        hkdf(key, salt, COMMITMENT_LABEL + t_commitment),
    )


def nonce(index, final):
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def seal(key, salt, key_ref, context, suite_id, segment_size, plaintext):
    prefix = (
        MAGIC
        + bytes([VERSION, suite_id])
        + segment_size.to_bytes(4, "big")
        + len(key_ref).to_bytes(2, "big")
        + key_ref
        + salt
    )
    payload_key, commitment = derive(key, prefix, context)
    aead = SUITES[suite_id](payload_key)
    chunks = [plaintext[i : i + segment_size] for i in range(0, len(plaintext), segment_size)]
    chunks = chunks or [b""]
    segments = [
        aead.encrypt(nonce(i, i == len(chunks) - 1), chunk, b"")
        for i, chunk in enumerate(chunks)
    ]
    header = prefix + commitment
    return payload_key, commitment, header, header + b"".join(segments)


def parse_header(data):
    """(prefix, commitment, suite_id, segment_size, header_len) or EnvelopeError (section 2.1)."""
    seen = min(len(data), 5)
    if data[:seen] != MAGIC[:seen]:
        raise EnvelopeError("not_an_envelope")
    if len(data) < 6:
        raise EnvelopeError("malformed_header")
    if data[5] != VERSION:
        raise EnvelopeError("unsupported_version")
    if len(data) < 7:
        raise EnvelopeError("malformed_header")
    if data[6] not in SUITES:
        raise EnvelopeError("unsupported_suite")
    if len(data) < 11:
        raise EnvelopeError("malformed_header")
    segment_size = int.from_bytes(data[7:11], "big")
    if not MIN_SEGMENT <= segment_size <= MAX_SEGMENT:
        raise EnvelopeError("malformed_header")
    if len(data) < 13:
        raise EnvelopeError("malformed_header")
    key_ref_len = int.from_bytes(data[11:13], "big")
    header_len = 77 + key_ref_len
    if len(data) < header_len:
        raise EnvelopeError("malformed_header")
    return data[: header_len - 32], data[header_len - 32 : header_len], data[6], segment_size, header_len


def segment_count(payload_len, segment_size):
    """Number of segments of a canonical payload, or EnvelopeError (section 2.2)."""
    sealed = segment_size + TAG
    q, m = divmod(payload_len, sealed)
    if m == 0 and q >= 1:
        return q
    if m == TAG and q == 0:
        return 1
    if m > TAG:
        return q + 1
    raise EnvelopeError("authentication")


def open_envelope(key, context, data):
    prefix, stored_commitment, suite_id, segment_size, header_len = parse_header(data)
    payload_key, commitment = derive(key, prefix, context)
    if not hmac.compare_digest(commitment, stored_commitment):
        raise EnvelopeError("authentication")
    payload = data[header_len:]
    n = segment_count(len(payload), segment_size)
    aead = SUITES[suite_id](payload_key)
    sealed = segment_size + TAG
    out = []
    for i in range(n):
        try:
            out.append(aead.decrypt(nonce(i, i == n - 1), payload[i * sealed : (i + 1) * sealed], b""))
        except InvalidTag:
            raise EnvelopeError("authentication") from None
    return b"".join(out)


def main():
    default = Path(__file__).resolve().parents[2] / "crates/envelope/tests/vectors/envelope_v1.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    vectors = json.loads(path.read_text())
    failures = 0
    h = bytes.fromhex

    for v in vectors["valid"]:
        payload_key, commitment, header, envelope = seal(
            h(v["key"]), h(v["salt"]), h(v["key_ref"]), h(v["context"]),
            v["suite_id"], v["segment_size"], h(v["plaintext"]),
        )
        checks = {
            "payload_key": payload_key.hex() == v["payload_key"],
            "commitment": commitment.hex() == v["commitment"],
            "header": header.hex() == v["header"],
            "envelope": envelope.hex() == v["envelope"],
            "open": open_envelope(h(v["key"]), h(v["context"]), h(v["envelope"])) == h(v["plaintext"]),
        }
        bad = [name for name, ok in checks.items() if not ok]
        failures += bool(bad)
        print(f"valid   {v['name']:<28} {'ok' if not bad else 'MISMATCH: ' + ', '.join(bad)}")

    for v in vectors["invalid"]:
        try:
            open_envelope(h(v["key"]), h(v["context"]), h(v["envelope"]))
            outcome = "opened"
        except EnvelopeError as error:
            outcome = error.kind
        ok = outcome == v["error"]
        failures += not ok
        print(f"invalid {v['name']:<28} {'ok (' + outcome + ')' if ok else f'MISMATCH: {outcome} != ' + v['error']}")

    total = len(vectors["valid"]) + len(vectors["invalid"])
    print(f"{total - failures}/{total} vectors matched")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
