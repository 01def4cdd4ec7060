#!/usr/bin/env python3
"""Writes the fuzz seeds in fuzz/seeds/<target>/. Run from anywhere: python3 fuzz/seeds/gen.py

The raw-mode seeds of decrypt_frame are frames with valid tags under the target's base key,
made here by a second, independent implementation of RFC 9605 (HKDF from the standard library,
AES-GCM from the `cryptography` package), so the fuzzer starts from frames that decrypt. The
session-mode seeds are scripts in the format read by `Session` in
fuzz_targets/decrypt_frame.rs; the comments spell each one out.
"""

import hashlib
import hmac
import pathlib
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = pathlib.Path(__file__).resolve().parent
BASE_KEY = b"veilig fuzz base key, not secret"
SUITES = {0x0004: (hashlib.sha256, 16), 0x0005: (hashlib.sha512, 32)}


def hkdf_expand(hash_fn, prk, info, length):
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hash_fn).digest()
        out, i = out + block, i + 1
    return out[:length]


def sframe_key(suite, kid):
    hash_fn, key_len = SUITES[suite]
    prk = hmac.new(b"", BASE_KEY, hash_fn).digest()  # HKDF-Extract with an empty salt
    context = struct.pack(">QH", kid, suite)
    key = hkdf_expand(hash_fn, prk, b"SFrame 1.0 Secret key " + context, key_len)
    salt = hkdf_expand(hash_fn, prk, b"SFrame 1.0 Secret salt " + context, 12)
    return key, salt


def header(kid, ctr):
    def field(value):
        if value < 8:
            return value, b""
        raw = value.to_bytes(8, "big").lstrip(b"\0")
        return 0x08 | (len(raw) - 1), raw

    (k, kid_bytes), (c, ctr_bytes) = field(kid), field(ctr)
    return bytes([k << 4 | c]) + kid_bytes + ctr_bytes


def seal(kid, ctr, metadata, plaintext, suite=0x0004):
    """header ‖ AES-GCM(plaintext) ‖ tag, with header ‖ metadata as associated data."""
    key, salt = sframe_key(suite, kid)
    nonce = bytes(a ^ b for a, b in zip(salt, ctr.to_bytes(12, "big")))
    head = header(kid, ctr)
    return head + AESGCM(key).encrypt(nonce, plaintext, head + metadata)


def escape(data):
    """H.264 emulation prevention, as codec::escape_start_codes."""
    out, zeros = bytearray(), 0
    for byte in data:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if zeros >= 2:
        out.append(3)
    return bytes(out)


def frame(prefix, payload, kid, ctr, h264=False, suite=0x0004):
    sealed = seal(kid, ctr, prefix, payload, suite)
    return prefix + (escape(sealed) if h264 else sealed)


VP8_KEY = bytes([0x50, 0x2A, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01])
VP8_DELTA = bytes([0x51, 0x2A, 0x00])
H264_IDR = bytes([0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F, 0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80, 0, 0, 1, 0x65])
BODY = bytes(range(1, 25))
ZEROS = bytes(12) + b"\x01\x02\x03" + bytes(6)

# Raw mode: byte 0 even; bit 1 the suite (0: AES-128-GCM); bits 2-7 the context length when the
# rest is also opened as a message.
RAW = {
    "raw_vp8_key": b"\x00" + frame(VP8_KEY, BODY, kid=5, ctr=0),
    "raw_vp8_delta": b"\x00" + frame(VP8_DELTA, BODY, kid=5, ctr=1),
    "raw_opus": b"\x00" + frame(b"\xfc", BODY, kid=0x1234, ctr=300),
    "raw_vp9": b"\x00" + frame(b"", BODY, kid=0xDEADBEEF, ctr=7),
    "raw_av1_aes256": b"\x02" + frame(b"", BODY, kid=9, ctr=2**40, suite=0x0005),
    "raw_h264_escaped": b"\x00" + frame(H264_IDR, ZEROS, kid=0x77, ctr=0, h264=True),
    "raw_message": bytes([4 << 2]) + b"chat" + seal(0x42, 3, b"chat", b"hello"),
    "raw_h264_no_slice": b"\x00" + bytes([0, 0, 0, 1, 0x67, 0, 0, 1, 0x68, 0, 0, 0]),
    "raw_empty": b"\x00",
}


def script(*parts):
    return b"".join(bytes(p) if isinstance(p, list) else p for p in parts)


def mode(suite=0, live=3, lifetime=3, store=3):
    """Session mode: bit 0 set; bit 1 suite; bits 2-3, 4-5 and 6-7 index LIVE_PER_SOURCE
    [1, 2, 3, 4], KIDS_PER_SOURCE [1, 2, 5, 64] and STORE (max_sources, max_kids) [(1, 3),
    (2, 6), (3, 16), (128, 16384)]; 3 is the decryptor's default."""
    return [1 | suite << 1 | live << 2 | lifetime << 4 | store << 6]


def senders(*setups):
    """Sender count, then per sender a setup byte (bits 0-2 KID width: 0 three bits, 1 one
    byte, 2 four bytes, 3 eight bytes; bits 3-4 first counter: 0 zero, 1 one byte, 2 u64::MAX
    minus 0-3, 3 eight bytes; bit 5 local) and its KID and counter bytes."""
    return [len(setups) - 1] + [b for setup in setups for b in setup]


def encrypt(sender, codec, template, payload):
    """op 0; codec indexes [Opus, VP8, VP9, AV1, H.264]; template 1 or 2 a plausible frame
    start, 0 none."""
    return [0, sender, codec, template, len(payload)] + list(payload)


def seal_message(sender, context, message):
    return [2, sender, len(context)] + list(context) + [len(message)] + list(message)


def deliver(item, source, via=0, mutations=()):
    """op 3; via 0 the item's own codec, 1-5 a codec, 6 as a message under its own context.
    A mutation is (kind, position, argument): kind 0 flip, 1 set, 2 insert, 3 remove, 4
    truncate."""
    out = [3, item, source, via, len(mutations)]
    for kind, position, argument in mutations:
        out += [kind, position >> 8, position & 0xFF, argument]
    return out


def forget(source):
    return [7, 0, source]


def release(sender):
    return [7, 2, sender]


SESSION = {
    # A VP8 key frame from sender KID 0x2a: accepted, replayed, then reflected by source 1.
    "session_replay_collision": script(
        mode(), senders([0x01, 0x2A]), encrypt(0, 1, 1, BODY), deliver(0, 0), deliver(0, 0), deliver(0, 1)
    ),
    # The same frame with one bit flipped in the ciphertext, then truncated, then intact.
    "session_tamper": script(
        mode(), senders([0x01, 0x2A]), encrypt(0, 1, 1, BODY),
        deliver(0, 0, mutations=[(0, 14, 3)]), deliver(0, 0, mutations=[(4, 12, 0)]), deliver(0, 0),
    ),
    # H.264 with zero runs (escaped), delivered with an escape byte removed, then intact.
    "session_h264": script(
        mode(), senders([0x00, 0x03]), encrypt(0, 4, 1, ZEROS),
        deliver(0, 2, mutations=[(3, 22, 0)]), deliver(0, 2),
    ),
    # H.264 unescaping is not injective: an extra 03 after 00 00 before a byte above 3 is
    # dropped. KID 0x01000004 puts 00 00 04 in the header; with an 03 inserted there the frame
    # still decrypts, to the same bytes, and the untouched copy is then a replay.
    "session_h264_reencoded": script(
        mode(), senders([0x02, 1, 0, 0, 4]), encrypt(0, 4, 2, BODY),
        deliver(0, 0, mutations=[(2, 9, 3)]), deliver(0, 0),
    ),
    # One live KID per source: the second KID on source 0 retires the first, whose next frame
    # is then refused.
    "session_rotation": script(
        mode(live=0), senders([0x01, 0x10], [0x01, 0x20]),
        encrypt(0, 2, 0, BODY), encrypt(1, 2, 0, BODY), encrypt(0, 2, 0, BODY),
        deliver(0, 0), deliver(1, 0), deliver(2, 0),
    ),
    # One KID per source in its life and one source: the second KID on source 0 is refused
    # (its first stays live), and so is any KID on source 1.
    "session_limits": script(
        mode(lifetime=0, store=0), senders([0x01, 0x10], [0x01, 0x20]),
        encrypt(0, 2, 0, BODY), encrypt(1, 2, 0, BODY), encrypt(0, 2, 0, BODY),
        deliver(0, 0), deliver(1, 0), deliver(1, 1), deliver(2, 0),
    ),
    # A local sender's frame reflected back, then the track ends and its KID is retired.
    "session_local": script(
        mode(suite=1), senders([0x21, 0x99]), encrypt(0, 0, 1, BODY), deliver(0, 3), release(0),
        encrypt(0, 0, 1, BODY), deliver(1, 3),
    ),
    # A chat message: opened under its context, as a VP9 frame (wrong AAD), and after its
    # source left.
    "session_message": script(
        mode(), senders([0x02, 0, 0, 1, 0]), seal_message(0, b"chat", b"hello"),
        deliver(0, 1, via=6), deliver(0, 2, via=3), forget(1), seal_message(0, b"chat", b"again"),
        deliver(1, 1, via=6),
    ),
    # A sender with three counters left: the fourth frame is refused.
    "session_exhaustion": script(
        mode(), senders([0x13, 0, 0, 0, 0, 0, 0, 0, 0x50, 2]),
        encrypt(0, 3, 0, BODY), encrypt(0, 3, 0, BODY), encrypt(0, 3, 0, BODY), encrypt(0, 3, 0, BODY),
        deliver(2, 0), deliver(0, 0),
    ),
}

HEADER_AND_LINK = {
    "header_small": bytes([0x75]),
    "header_full": header(2**64 - 1, 2**64 - 1),
    "header_non_minimal": bytes([0x80, 0x05, 0x00]),
    "header_truncated": bytes([0x8F, 0x01]),
    "h264_frame": H264_IDR + bytes([0x88, 0, 0, 3, 1, 0, 0]),
    "link_full": b"https://meet.example/weekly-sync#AAECAwQFBgcICQoLDA0ODw&pw=1&lang=nl",
    "link_path": b"/weekly-sync?x=1#AAECAwQFBgcICQoLDA0ODw",
    "link_room_only": b"abcdefghij##AAECAwQFBgcICQoLDA0ODwABAgMEBQYHCAkKCwwNDg8",
}


def main():
    for target, seeds in [("decrypt_frame", {**RAW, **SESSION}), ("header_and_link", HEADER_AND_LINK)]:
        directory = HERE / target
        directory.mkdir(exist_ok=True)
        for name, data in seeds.items():
            (directory / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
