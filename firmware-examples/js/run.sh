#!/bin/sh
# Installs the example's npm packages when missing (npm ci, from
# package-lock.json) and runs it, passing the arguments through. Works from
# any directory, e.g. from the repository root: firmware-examples/js/run.sh --once
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/mqtt" ] || [ ! -d "$here/node_modules/cbor2" ]; then
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >&2
fi
exec node "$here/device.mjs" "$@"
