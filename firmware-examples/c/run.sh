#!/bin/sh
# Builds the C device example if needed and runs it, passing the arguments
# through: firmware-examples/c/run.sh --once (from anywhere).
set -e
dir=$(cd "$(dirname "$0")" && pwd)
make -s -C "$dir" device >&2
exec "$dir/device" "$@"
