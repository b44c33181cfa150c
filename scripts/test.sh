#!/usr/bin/env bash
# Sets everything up, then runs every check: formatting, clippy, and the whole test suite
# (unit tests, real ONNX Runtime sessions, real GStreamer pipelines, reeld and reelctl end to end).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$REEL_ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
echo "test: cargo fmt --check" >&2
cargo fmt --all -- --check
echo "test: cargo clippy" >&2
cargo clippy --workspace --all-targets -q -- -D warnings
echo "test: cargo test" >&2
cargo test --workspace --no-fail-fast
echo "test: systemd units (verify, security, sysusers, tmpfiles)" >&2
scripts/check-systemd-units
echo "test: meta-reel (crates in sync with Cargo.lock, oelint-adv)" >&2
scripts/check-yocto-layer
echo "test: simulated world and its evaluator (python unittest)" >&2
"$REEL_WORLD_PYTHON" -m unittest discover -s scripts/world
