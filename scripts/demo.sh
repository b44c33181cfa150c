#!/usr/bin/env bash
# Sets everything up, builds, and makes one clip with the default bundle; prints the clip's path.
#   scripts/demo.sh "a red rubber ball bounces on a wooden floor" [reelctl generate options…]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/demo.sh \"PROMPT\" [--seconds N] [--seed N]" >&2; exit 2; }
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$REEL_ROOT"
bundle=${REEL_BUNDLE:-$REEL_ROOT/engines/bundles/tiny-random}
echo "demo: building (release; the first build takes a few minutes)" >&2
cargo build --release --workspace --bins -q
mkdir -p "$REEL_ROOT/out"
prompt=$1
shift
exec "$REEL_ROOT/target/release/reelctl" generate "$prompt" --bundle "$bundle" \
  --out "$REEL_ROOT/out/reel-$(date +%Y%m%d-%H%M%S).mp4" "$@"
