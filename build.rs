//! Lays out together, in the deployed binaries, the code a cold start and its first requests run.
//!
//! A Lambda cold start maps the binary's code in from the page cache one page fault at a time (the kernel
//! maps up to 64 KiB around each), and each costs microseconds in a microVM. Spread over the 5 MB of code
//! the compiler lays out by crate, the few hundred kilobytes a cold start runs touch dozens of such windows;
//! laid out together by `link/hot-text.ld` (made by `link/profile`, from the functions a callgrind run of
//! every configuration's cold start executes), they touch a few. Nothing else changes: the script only orders
//! `.text` sections, and a function it names that the build does not have is simply not there.
//!
//! Only for release builds of the musl target, which is what `cargo lambda build` and `sam build` deploy.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-text.ld");
    let target_is = |key: &str, value: &str| env::var(key).is_ok_and(|actual| actual == value);
    let deployed = target_is("CARGO_CFG_TARGET_OS", "linux")
        && target_is("CARGO_CFG_TARGET_ENV", "musl")
        && target_is("PROFILE", "release");
    if deployed {
        let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let script = Path::new(&manifest_dir).join("link").join("hot-text.ld");
        println!("cargo:rustc-link-arg-bins=-T");
        println!("cargo:rustc-link-arg-bins={}", script.display());
    }
}
