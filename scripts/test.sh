#!/usr/bin/env bash
# Runs Galleon's whole test suite on a Debian machine with Go, installing
# what the tests need first (the az CLI from Debian's azure-cli package).
# Real-client suites are switched on by environment variables:
#   GALLEON_TEST_AZ=1   drive the real `az` against a real server
set -euo pipefail
cd "$(dirname "$0")/.."
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOFLAGS="${GOFLAGS:--mod=mod}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v az >/dev/null 2>&1; then
  echo "== installing azure-cli (Debian package) for the az end-to-end tests"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq azure-cli >/dev/null ||
    echo "!! could not install azure-cli; the az tests will be skipped"
fi
if command -v az >/dev/null 2>&1; then
  export GALLEON_TEST_AZ="${GALLEON_TEST_AZ:-1}"
fi

echo "== go vet"
go vet ./...
echo "== go test"
go test -race -count=1 -timeout 30m ./...
