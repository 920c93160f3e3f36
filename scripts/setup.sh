#!/usr/bin/env bash
# One-time set-up on Debian 12 (idempotent): system packages, then .venv with asc-tool installed.
# Needs root or sudo for apt-get; skips packages that are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# openocd and stlink-tools: the flash runners' tools (tests run them up to the missing probe;
# their packages also install the ST-LINK udev rules)
APT_PACKAGES=(python3 python3-venv python3-dev gcc libc6-dev make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi
              gdb-multiarch openocd stlink-tools)
QEMU_MIN=9.1

missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
qemu_ok() {
  command -v qemu-system-arm >/dev/null 2>&1 || return 1
  local v; v=$(qemu-system-arm --version | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
  [ "$(printf '%s\n%s\n' "$QEMU_MIN" "$v" | sort -V | head -1)" = "$QEMU_MIN" ]
}
if [ ${#missing[@]} -gt 0 ] || ! qemu_ok; then
  export DEBIAN_FRONTEND=noninteractive
  if ! qemu_ok && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
  fi
  $SUDO apt-get update -q
  [ ${#missing[@]} -gt 0 ] && $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  qemu_ok || $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-arm
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,flash]"
echo "set-up done: $(.venv/bin/asc-tool --version)" >&2
