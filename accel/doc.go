// Package accel detects the gateway's hardware and runs LLM inference: a
// scheduler with continuous batching over a paged KV cache, model runners,
// and an OpenAI-compatible HTTP API. It knows nothing about devices, agents
// or protocols and imports none of the other stages.
package accel
