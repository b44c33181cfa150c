#!/usr/bin/env bash
# Installs what Reel needs on a fresh Debian 12 machine, idempotently:
#   - Debian packages (GStreamer with its plugins, mosquitto, dbus) when any is missing;
#   - ONNX Runtime's shared library, unpacked from the PyPI `onnxruntime` wheel into .cache/.
# It downloads nothing else. Source it (`. scripts/setup.sh`) to get ORT_DYLIB_PATH exported.
set -euo pipefail

REEL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ORT_VERSION=1.32.0
APT_PACKAGES=(
  pkg-config python3 python3-pip
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-base-apps
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  mosquitto mosquitto-clients openssl dbus libglib2.0-bin systemd
  systemd python3-venv # systemd-analyze, -sysusers, -tmpfiles and a venv for oelint-adv (#10)
)

say() { printf 'setup: %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; return 1; }
    sudo=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_onnxruntime() {
  local dir="$REEL_ROOT/.cache/onnxruntime"
  ORT_DYLIB_PATH="$dir/libonnxruntime.so.$ORT_VERSION"
  export ORT_DYLIB_PATH
  [ -f "$ORT_DYLIB_PATH" ] && return 0
  say "fetching ONNX Runtime $ORT_VERSION (PyPI wheel onnxruntime)"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$dir"
  python3 - "$tmp" "$dir" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "onnxruntime-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("onnxruntime/capi/libonnxruntime.so"):
            target = os.path.join(sys.argv[2], os.path.basename(name))
            with z.open(name) as src, open(target + ".part", "wb") as dst:
                dst.write(src.read())
            os.replace(target + ".part", target)
PY
  rm -rf "$tmp"
  [ -f "$ORT_DYLIB_PATH" ] || { say "the onnxruntime wheel had no libonnxruntime.so.$ORT_VERSION"; return 1; }
}

check_rust() {
  command -v cargo >/dev/null || { say "cargo not found: install Rust 1.92 or newer (rustup.rs), then run again"; return 1; }
}

# oelint-adv, pinned, in its own venv: scripts/check-yocto-layer lints meta-reel with it (#10).
OELINT_ADV_VERSION=9.11.2
install_oelint_adv() {
  local venv="$REEL_ROOT/.cache/oelint-venv"
  if [ -x "$venv/bin/oelint-adv" ] && [ "$("$venv/bin/oelint-adv" --version 2>/dev/null)" = "oelint-adv $OELINT_ADV_VERSION" ]; then
    return 0
  fi
  say "installing oelint-adv $OELINT_ADV_VERSION (PyPI) into .cache/oelint-venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "oelint-adv==$OELINT_ADV_VERSION"
}

# The simulated world and its evaluator (#4) run in a venv of their own, pinned by
# scripts/world/requirements.txt; a copy of that file marks the venv as up to date.
install_world_venv() {
  local venv="$REEL_ROOT/.cache/world-venv" requirements="$REEL_ROOT/scripts/world/requirements.txt"
  REEL_WORLD_PYTHON="$venv/bin/python"
  export REEL_WORLD_PYTHON
  if [ -x "$REEL_WORLD_PYTHON" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
    return 0
  fi
  say "installing the world simulator's Python packages (PyPI) into .cache/world-venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
}

install_debian_packages
install_onnxruntime
install_oelint_adv
install_world_venv
check_rust
say "ready (ORT_DYLIB_PATH=$ORT_DYLIB_PATH)"
