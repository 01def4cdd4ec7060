//! Realistic frames of every codec, for round-trip tests natively and in the browser.
#![allow(dead_code)]

use veilig_e2ee::Codec;

/// Bytes that look like encoder output: deterministic, with runs of zeros (which matter for
/// H.264 escaping).
pub fn body(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 17 < 4 {
                0
            } else {
                (i as u8).wrapping_mul(31).wrapping_add(seed)
            }
        })
        .collect()
}

/// A VP8 key frame: frame tag with the key-frame bit clear, start code, 640x480.
pub fn vp8_key(len: usize) -> Vec<u8> {
    let mut frame = vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
    frame.extend(body(len - frame.len(), 1));
    frame
}

/// A VP8 delta frame.
pub fn vp8_delta(len: usize) -> Vec<u8> {
    let mut frame = vec![0x51, 0x2a, 0x00];
    frame.extend(body(len - frame.len(), 2));
    frame
}

/// An Opus packet with a SILK 20 ms TOC byte.
pub fn opus(len: usize) -> Vec<u8> {
    let mut frame = vec![0x78];
    frame.extend(body(len - 1, 3));
    frame
}

/// An H.264 IDR access unit: SPS, PPS, then a slice containing start-code look-alikes.
pub fn h264_idr(len: usize) -> Vec<u8> {
    let mut frame = vec![
        0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, //
        0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, //
        0, 0, 1, 0x65, 0x88, 0x84,
    ];
    frame.extend(body(len - frame.len(), 4));
    frame.extend([0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0]);
    frame
}

/// An H.264 non-IDR slice with a second slice after it.
pub fn h264_delta(len: usize) -> Vec<u8> {
    let mut frame = vec![0, 0, 0, 1, 0x41, 0x9a];
    frame.extend(body(len / 2, 5));
    frame.extend([0, 0, 1, 0x41, 0x9b]);
    frame.extend(body(len / 2, 6));
    frame
}

/// One frame per codec rule, with the codec and the clear prefix it must keep.
pub fn every_codec(len: usize) -> Vec<(Codec, Vec<u8>, usize)> {
    vec![
        (Codec::Vp8, vp8_key(len), 10),
        (Codec::Vp8, vp8_delta(len), 3),
        (Codec::Opus, opus(len), 1),
        (Codec::Vp9, body(len, 7), 0),
        (Codec::Av1, body(len, 8), 0),
        (Codec::H264, h264_idr(len), 21),
        (Codec::H264, h264_delta(len), 5),
    ]
}
