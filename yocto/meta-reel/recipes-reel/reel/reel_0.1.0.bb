require reel.inc

# The Rust toolchain per release series. wrynose and later: oe-core's Rust (1.94) and cargo
# classes. scarthgap: oe-core has Rust 1.75 and Reel needs 1.92, so meta-rust-bin's prebuilt
# toolchain (cargo_bin). Both take the crates from reel-crates.inc (crate:// fetcher, sha256
# checked) and build offline; regenerate it with `bitbake -c update_crates reel` (wrynose) or
# scripts/yocto-crates.
REEL_USE_RUST_BIN ??= "${@'1' if 'scarthgap' in (d.getVar('LAYERSERIES_CORENAMES') or '').split() else '0'}"
inherit_defer ${@'cargo_bin' if d.getVar('REEL_USE_RUST_BIN') == '1' else 'cargo cargo-update-recipe-crates'}

# cargo_bin lets cargo download crates itself; point it at the ones the crate:// fetcher
# unpacked into ${CARGO_HOME}/bitbake instead, and forbid network access.
SRC_URI += "file://cargo-vendored-crates.toml"
EXTRA_CARGO_FLAGS = "--frozen"
reel_rust_bin_vendored_crates() {
    sed -e 's,@CARGO_HOME@,${CARGO_HOME},g' ${UNPACKDIR}/cargo-vendored-crates.toml > ${CARGO_HOME}/config.toml
}
reel_rust_bin_vendored_crates[doc] = "Makes cargo_bin's cargo use the crates fetched by bitbake"
do_configure[postfuncs] += "${@'reel_rust_bin_vendored_crates' if d.getVar('REEL_USE_RUST_BIN') == '1' else ''}"
