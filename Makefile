# Outpost. `make test` installs what the tests need and runs them; CI runs it
# through .ci/run. Long runs (benchmarks, longer fuzzing) are separate targets.

GO       ?= go
BIN      ?= bin/outpost
PKGS     ?= ./...
MQTTJS   := broker/testdata/mqttjs
export CGO_ENABLED ?= 0

.PHONY: all build test test-deps test-arm64 vet lint fuzz bench bench-broker bench-inference bench-agents bench-chat cross clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/outpost

# test-deps installs the external programs the tests drive: Mosquitto's
# clients and server (Debian), Node.js and mqtt.js (npm). It never leaves a
# system Mosquitto service running on port 1883.
test-deps:
	@./scripts/test-deps.sh

# The inference kernels have arm64 (NEON) assembly: vet it from any host.
vet:
	$(GO) vet $(PKGS)
	GOARCH=arm64 $(GO) vet ./accel/...

# test-arm64 runs only the arm64 kernel tests under qemu-user (part of
# `make test` through accel/cpu's TestNEONKernelsUnderQemu).
test-arm64: test-deps
	$(GO) test -count=1 -run '^TestNEONKernelsUnderQemu$$' -v ./accel/cpu

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The race detector needs cgo. The 10,000-agent test runs again without it,
# at full size (the race detector slows the SQLite engine tenfold).
test: test-deps lint
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(GO) test -count=1 -timeout 10m -run '^TestManyAgentsStayBounded$$' ./agenthost

# fuzz runs every fuzz target briefly (FUZZTIME each); longer runs:
#   make fuzz FUZZTIME=10m
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: bench-broker

# bench-broker runs the same MQTT load against Outpost and against Debian's
# Mosquitto in one run and prints the ratios (docs/benchmarks.md).
BENCHFLAGS ?=
bench-broker: build
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || ./scripts/test-deps.sh
	$(GO) run ./bench/brokerbench --outpost $(BIN) $(BENCHFLAGS)

# bench-inference measures the local inference engine through its HTTP API
# and llama.cpp (llama-bench, llama-batched-bench) on the same synthesized
# TinyLlama-1.1B files (Q8_0 and Q4_K, written once to .cache/models), the
# two alternating, same thread count: prefill, batch-1 and concurrent
# decode, CPU per token, overheads, ratios against the targets
# (docs/benchmarks.md). The first run builds llama.cpp from the npm package
# node-llama-cpp into .cache/llama.cpp (bench/llamacpp/build.sh; needs cmake,
# g++, make, git, npm; about 27 minutes on 2 cores); later runs reuse it.
# About 13 minutes per weight type on a quiet 2-core machine, far longer
# under load. INFERENCEFLAGS adds flags, e.g. --quant q8_0 --reps 3, or
# --llamacpp off for Outpost alone.
INFERENCEFLAGS ?=
bench-inference:
	$(GO) run ./bench/inferencebench $(INFERENCEFLAGS)

# bench-agents runs device -> agent -> device over MQTT (CBOR, one SQLite
# write per message) with 1, 100 and 10,000 agents, stateful agents against
# a stateless baseline in the same run, plus wake-from-hibernation latency
# and memory per agent (docs/benchmarks.md). About 6 minutes on 2 cores;
# AGENTFLAGS adds flags, e.g. --quick (one minute) or --markdown.
AGENTFLAGS ?=
bench-agents:
	$(GO) run ./bench/agentbench $(AGENTFLAGS)

# bench-chat measures the chat agent's overhead against calling
# /v1/chat/completions directly, on the built binary, side by side
# (docs/chat.md); CHATFLAGS e.g. -chatbench.shape tinyllama-1.1b.
CHATFLAGS ?=
bench-chat:
	$(GO) test -count=1 -run '^TestChatOverhead$$' -v ./cmd/outpost -chatbench $(CHATFLAGS)

cross:
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/outpost
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o /dev/null ./cmd/outpost
	GOOS=linux GOARCH=amd64 $(GO) build -o /dev/null ./cmd/outpost

clean:
	rm -rf bin
