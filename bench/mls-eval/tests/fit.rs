//! The API-fit scenario, natively, for both libraries: each must refuse an add without the PSK,
//! make a Welcome useless without it, agree on the exporter and authenticator, change them with
//! the epoch, and shut out a removed member.
#![cfg(not(target_arch = "wasm32"))]

use mls_eval::{fit, group_of, minimal_flow, Library};

fn check<L: Library>() {
    let found = fit::<L>().unwrap_or_else(|e| panic!("{}: {e}", L::NAME));
    println!("{}: {found:?}", L::NAME);
    assert!(found.refuses_add_without_psk, "{}", L::NAME);
    assert!(found.welcome_needs_psk, "{}", L::NAME);
    assert!(found.agree, "{}", L::NAME);
    assert!(found.keys_change, "{}", L::NAME);
    assert!(found.removed_is_out, "{}", L::NAME);
    assert_eq!(minimal_flow::<L>(), Ok(3), "{}", L::NAME);
    let (creator, member) = group_of::<L>(25).unwrap();
    assert_eq!(L::authenticator(&creator), L::authenticator(&member));
    assert_eq!(L::leaf(&member), 1);
}

#[test]
fn openmls_fits() {
    check::<mls_eval::om::OpenMls>();
}

#[test]
fn mls_rs_fits() {
    check::<mls_eval::mlsrs::MlsRs>();
}
