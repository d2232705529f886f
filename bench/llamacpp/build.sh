#!/usr/bin/env bash
# build.sh builds llama.cpp's llama-bench and llama-batched-bench for
# `make bench-inference`, from the llama.cpp source that the npm package
# node-llama-cpp ships (a git bundle of one release), into an ignored folder:
#
#   .cache/llama.cpp/npm     npm install -E node-llama-cpp@$NODE_LLAMA_CPP_VERSION
#   .cache/llama.cpp/src     git clone of the bundle (llama.cpp's code; never committed)
#   .cache/llama.cpp/build   cmake build: CPU only, Release, GGML_NATIVE=ON, static
#   .cache/llama.cpp/stamp   what was built; a second run with the same stamp does nothing
#
# It prints the folder holding the two programs on its last line. It never
# installs system packages: when a tool is missing it names the Debian
# packages to install and fails.
#
# Environment: LLAMACPP_DIR (default .cache/llama.cpp), NODE_LLAMA_CPP_VERSION
# (default the pin below), JOBS (default nproc).
set -euo pipefail

# 3.21.1 bundles llama.cpp release v0.4.0 of node-llama-cpp's binaries,
# llama.cpp commit 80fb11a: the build the issue's reference figures came from.
NODE_LLAMA_CPP_VERSION=${NODE_LLAMA_CPP_VERSION:-3.21.1}
DIR=${LLAMACPP_DIR:-.cache/llama.cpp}
JOBS=${JOBS:-$(nproc)}
TARGETS=(llama-bench llama-batched-bench)
CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF
	-DLLAMA_OPENSSL=OFF -DGGML_CCACHE=OFF)

log() { echo "llamacpp: $*" >&2; }
die() { log "$*"; exit 1; }

stamp="node-llama-cpp=$NODE_LLAMA_CPP_VERSION cmake=${CMAKE_FLAGS[*]} cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
bin="$DIR/build/bin"
if [[ -f "$DIR/stamp" && "$(head -n1 "$DIR/stamp")" == "$stamp" ]] &&
	[[ -x "$bin/llama-bench" && -x "$bin/llama-batched-bench" ]]; then
	log "cached build in $bin ($(sed -n 2p "$DIR/stamp"))"
	echo "$bin"
	exit 0
fi

missing=()
for tool in cmake:cmake g++:g++ cc:gcc make:make git:git npm:npm; do
	command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
	die "missing build tools; install them with: apt-get install -y ${missing[*]}  (or run make bench-inference INFERENCEFLAGS=--llamacpp=off)"
fi

mkdir -p "$DIR"
bundle="$DIR/npm/node_modules/node-llama-cpp/llama/gitRelease.bundle"
have=$(node -p "require('./$DIR/npm/node_modules/node-llama-cpp/package.json').version" 2>/dev/null || true)
if [[ "$have" != "$NODE_LLAMA_CPP_VERSION" || ! -f "$bundle" ]]; then
	log "npm install node-llama-cpp@$NODE_LLAMA_CPP_VERSION into $DIR/npm"
	mkdir -p "$DIR/npm"
	# --ignore-scripts: only the bundled source is wanted, not the prebuilt addon.
	npm install --prefix "$DIR/npm" -E --ignore-scripts --no-audit --no-fund --loglevel=error \
		"node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >&2
	[[ -f "$bundle" ]] || die "node-llama-cpp@$NODE_LLAMA_CPP_VERSION has no llama/gitRelease.bundle"
	rm -rf "$DIR/src" "$DIR/build"
fi

commit=$(git bundle list-heads "$bundle" | awk 'NR==1{print $1}')
if [[ "$(git -C "$DIR/src" rev-parse HEAD 2>/dev/null)" != "$commit" ]]; then
	log "git clone $bundle ($commit) into $DIR/src"
	rm -rf "$DIR/src" "$DIR/build"
	git clone -q "$bundle" "$DIR/src"
	git -C "$DIR/src" -c advice.detachedHead=false checkout -q "$commit"
fi
tag=$(node -p "require('./$DIR/npm/node_modules/node-llama-cpp/llama/binariesGithubRelease.json').release" 2>/dev/null || echo unknown)

log "cmake configure ($JOBS jobs; building on 2 cores takes 15-30 minutes)"
cmake -S "$DIR/src" -B "$DIR/build" "${CMAKE_FLAGS[@]}" >"$DIR/configure.log" 2>&1 ||
	die "cmake configure failed; see $DIR/configure.log"
start=$(date +%s)
cmake --build "$DIR/build" -j "$JOBS" --target "${TARGETS[@]}" >"$DIR/build.log" 2>&1 ||
	die "cmake build failed; see $DIR/build.log (tail: $(tail -n 3 "$DIR/build.log" | tr '\n' ' '))"
printf '%s\nllama.cpp %s (node-llama-cpp %s, release %s), built in %ss\n' \
	"$stamp" "${commit:0:7}" "$NODE_LLAMA_CPP_VERSION" "$tag" "$(($(date +%s) - start))" >"$DIR/stamp"
log "built $(sed -n 2p "$DIR/stamp") into $bin"
echo "$bin"
