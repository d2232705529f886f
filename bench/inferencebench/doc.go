// Command inferencebench measures the local inference engine on a
// synthesized model through its OpenAI-compatible HTTP API, the way a
// client sees it, and llama.cpp's own benchmark programs on the same file
// in the same run, and prints both and their ratios.
//
// Usage:
//
//	go run ./bench/inferencebench [--quant q8_0,q4_k] [--shape tinyllama-1.1b] [--model FILE.gguf]
//	    [--llamacpp auto|off|DIR] [--threads N] [--reps 2] [--markdown] [--cpuprofile FILE]
//	    [--prefill-tokens 128] [--decode-tokens 64] [--concurrency 8,32] [--prompt-tokens 128] [--gen-tokens 32]
//
// For each --quant (f32, f16, q8_0, q4_k, or q4_k_m: llama.cpp's Q4_K_M
// mix, Q4_K with Q6_K where it puts it) it synthesizes the shape (seed 1) into
// .cache/models/SHAPE-QUANT.gguf once and reuses it; a weight type that
// synth (or the engine) cannot handle yet is skipped with a note, and the
// run fails only when nothing could be measured. --model measures one
// given file instead.
//
// # The two engines
//
// Outpost's engine runs in this process with --threads runner threads and
// the fastest kernels the CPU has; the API is served on a loopback port and
// driven with streaming requests (SSE, stream_options.include_usage),
// sampling with llama.cpp's defaults (temperature 0.8, top-k 40, top-p 0.95,
// min-p 0.05, fixed seeds). Every prompt is distinct, so the prefix cache
// serves none of them (the "cached tok" column checks it).
//
// llama.cpp is the release bundled in the npm package node-llama-cpp
// (pinned in bench/llamacpp/build.sh), built once into .cache/llama.cpp
// (CPU only, Release, GGML_NATIVE) by that script; --llamacpp auto runs the
// script, which returns at once when the build is cached and fails naming
// the Debian packages when cmake or a compiler is missing. Its tests run
// as child processes with -t --threads on the same file: llama-bench
// (-p N -n 0 for prefill, -p 0 -n N for batch-1 decode, one timed run after
// its warm-up) and llama-batched-bench (-npp -ntg -npl N, the N prompts in
// one batch, then -ntg steps of N tokens).
//
// Each scenario runs --reps times; within a repetition the two engines run
// it one after the other, never at once, alternating which goes first, so
// that a noisy shared machine hurts both alike. The summary gives medians
// and ranges.
//
// # Scenarios and metrics
//
//   - prefill: one request with a prompt of about --prefill-tokens tokens
//     and max_tokens 1; tokens/s = prompt tokens / time to first token
//     (TTFT). llama.cpp: llama-bench pp.
//   - decode-1: one request, a 4-token prompt, --decode-tokens tokens;
//     tokens/s = (tokens − 1) / (last token − first token). llama.cpp:
//     llama-bench tg (from an empty context).
//   - concurrent-N for each N in --concurrency: N requests at once, each
//     with a distinct prompt of about --prompt-tokens tokens and
//     --gen-tokens tokens. Aggregate decode tokens/s = tokens of the
//     engine's decode-only steps / their time (llama.cpp: S_TG of
//     llama-batched-bench); generated tokens/s incl. prefill = completion
//     tokens / wall time (llama.cpp: N × ntg / (T_PP + T_TG)).
//   - CPU ms/token: Outpost: this process's user+system CPU time
//     (getrusage) during the scenario, which includes the HTTP server and
//     the client; llama.cpp: the child's user+system time from
//     /proc/PID/stat, read when the progress line of the timed run (or the
//     batched table header, printed after its warm-up) and the result line
//     arrive, so model loading and warm-up are excluded (10 ms ticks).
//     Divided by prompt tokens for prefill and by generated tokens
//     otherwise (prefill included for the concurrent scenarios).
//   - overhead: scheduler + sampling = (step time − forward time) / step
//     time from the engine's counters; HTTP = the CPU an SSE token costs
//     (server handler plus client parsing, measured with a backend that
//     answers instantly) × tokens per decode step / decode step time.
//   - idle check: this process's CPU time while llama.cpp ran (the idle
//     engine should use none).
//
// The targets printed are the issue's: batch-1 decode at least 70% of
// llama.cpp's, prefill at least 50%, aggregate decode at 8 concurrent at
// least 100%, and scheduler + sampling + HTTP at most 3% of step time at 8.
package main
