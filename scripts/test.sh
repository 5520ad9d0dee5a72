#!/usr/bin/env bash
# Runs Galleon's whole test suite on a Debian machine with Go, installing
# what the tests need first (the az CLI from Debian's azure-cli package).
# Real-client suites are switched on by environment variables:
#   GALLEON_TEST_AZ=1   drive the real `az` against a real server
#   GALLEON_TEST_CRASH=1  SIGKILL server processes mid-upload and mid-replication
set -euo pipefail
cd "$(dirname "$0")/.."
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOFLAGS="${GOFLAGS:--mod=mod}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# Debian packages the tests use: azure-cli (az end-to-end tests) and
# qemu-utils (qemu-img cross-checks of the disk image formats).
missing=()
command -v az >/dev/null 2>&1 || missing+=(azure-cli)
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (Debian packages)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    echo "!! could not install ${missing[*]}; the tests that need them will be skipped"
fi
if command -v az >/dev/null 2>&1; then
  export GALLEON_TEST_AZ="${GALLEON_TEST_AZ:-1}"
fi

export GALLEON_TEST_CRASH="${GALLEON_TEST_CRASH:-1}"

echo "== go vet"
go vet ./...
echo "== go test"
go test -race -count=1 -timeout 30m ./...
