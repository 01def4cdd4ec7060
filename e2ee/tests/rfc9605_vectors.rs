//! RFC 9605's official test vectors (`tests/data/sframe-rfc9605.json`), natively.

mod common;

#[test]
fn all_header_vectors_encode_and_parse() {
    assert_eq!(common::check_header_vectors(), 289);
}

#[test]
fn both_aes_gcm_sframe_vectors_encrypt_and_decrypt() {
    assert_eq!(common::check_sframe_vectors(), 2);
}
