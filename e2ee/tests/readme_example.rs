//! The README's worked example (key schedule and one encrypted frame) is what the code computes,
//! byte for byte: see `common/readme.rs`.

mod common;

#[test]
fn the_readme_worked_example_is_what_the_code_computes() {
    let rendered = common::readme::render();
    assert_eq!(
        common::readme::readme_block().as_deref(),
        Some(rendered.as_str()),
        "README worked example is stale; it should read:\n{rendered}"
    );
}
