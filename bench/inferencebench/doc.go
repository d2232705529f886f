// Command inferencebench measures the local inference engine on a
// synthesized model through its OpenAI-compatible HTTP API, the way a
// client sees it, and prints one table.
//
// Usage:
//
//	go run ./bench/inferencebench [--model FILE.gguf] [--shape tinyllama-1.1b] [--markdown]
//	    [--prefill-tokens 32] [--decode-tokens 8] [--concurrency 8,32] [--prompt-tokens 4] [--gen-tokens 4]
//
// The defaults are small so that a run of the scalar engine on two cores
// takes a few minutes; raise them once the kernels are fast.
//
// Without --model it synthesizes the shape (Q8_0, seed 1) into
// .cache/models/SHAPE-q8_0.gguf once and reuses it. The engine runs in
// this process with its defaults (all cores, the fastest kernels the CPU has); the API is
// served on a loopback port and driven with streaming requests (SSE,
// stream_options.include_usage), sampling with llama.cpp's defaults
// (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, fixed seeds).
//
// # Scenarios and metrics
//
//   - prefill: one request with a prompt of about --prefill-tokens tokens
//     and max_tokens 1. Prefill tokens/s = prompt tokens / time to first
//     token (TTFT, request sent to first streamed token).
//   - decode-1: one request, a short prompt, --decode-tokens tokens.
//     Batch-1 decode tokens/s = (tokens − 1) / (last token − first token).
//   - concurrent-N for each N in --concurrency: N requests at once, each
//     with a distinct prompt of about --prompt-tokens tokens and
//     --gen-tokens tokens. Aggregate tokens/s = all completion tokens /
//     wall time (prefills included); decode tokens/s = tokens of the
//     engine's decode-only steps / their time (the steady state).
//   - TTFT: median over the requests of a scenario.
//   - CPU ms/token: this process's user+system CPU time (getrusage) during
//     the scenario / completion tokens; it includes prefill, the HTTP
//     server and the client.
//   - overhead: scheduler + sampling = (step time − forward time) / step
//     time from the engine's counters; HTTP = the CPU an SSE token costs
//     (server handler plus client parsing, measured with a backend that
//     answers instantly) × tokens per decode step / decode step time.
package main
