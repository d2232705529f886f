#!/bin/sh
# Builds the paho3 example (Go's build cache makes a rebuild quick) and runs it,
# passing the arguments through. Works from any directory, e.g. from the
# repository root: firmware-examples/go/paho3/run.sh --once
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/outpost-examples
mkdir -p "$cache" 2>/dev/null || { cache=${TMPDIR:-/tmp}/outpost-examples-$(id -u); mkdir -p "$cache"; }
bin=$cache/paho3
# Build to a private name, then rename: runs in parallel never see half a file.
(cd "$root" && go build -o "$bin.$$" ./firmware-examples/go/paho3)
mv -f "$bin.$$" "$bin"
exec "$bin" "$@"
