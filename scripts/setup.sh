#!/usr/bin/env bash
# Installs what codeprof needs on a fresh Debian 12 machine (run as root). Idempotent: installs
# only what is missing. Usage: scripts/setup.sh [--with-torch] [--with-browser]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev nlohmann-json3-dev libsimdjson-dev libtomlplusplus-dev libcli11-dev zlib1g-dev
  clang libclang-rt-14-dev clang-tidy prometheus
  pybind11-dev python3-dev python3-setuptools python3-pytest python3-psutil python3-venv
  libunwind-dev libdw-dev protobuf-compiler libprotobuf-dev linux-perf golang-1.19-go)
# Node.js may come from elsewhere (with its own npm); ask apt only when it is absent.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
for arg in "$@"; do
  case "$arg" in
    --with-torch) packages+=(libtorch-dev python3-torch libgloo-dev) ;;
    --with-browser) packages+=(chromium) ;;
    *) echo "setup.sh: unknown option '$arg' (expected --with-torch or --with-browser)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

# npm packages (uPlot for the dashboard, playwright-core for the browser tests) are installed by
# the build itself from the committed lock files (npm ci into the build directory).
