// Package accel detects the gateway's hardware and runs LLM inference: a
// scheduler with continuous batching over a paged KV cache, model runners,
// and an OpenAI-compatible HTTP API. It knows nothing about devices, agents
// or protocols and imports none of the other stages.
//
// This root package holds the vocabulary that consumers use: ChatRequest
// (with OpenAI-style Tools and ToolChoice; messages with ToolCalls and
// tool results) and CompletionRequest (with Sampling), the streamed answer
// (Stream, read chunk by chunk with Recv or whole with Collect; a Chunk
// carries text, reasoning and ToolCallDelta pieces, which ToolCalls
// assembles), Usage, ModelInfo, and
// Error, an OpenAI-shaped error with its HTTP status, with sentinels for
// errors.Is (ErrModelNotFound, ErrContextLength, ErrInvalidRequest,
// ErrOverloaded, ErrClosed, ErrSlowConsumer). Every backend has the same
// method set,
//
//	Models(ctx) ([]ModelInfo, error)
//	Chat(ctx, ChatRequest) (*Stream, error)
//	Complete(ctx, CompletionRequest) (*Stream, error)
//
// so a consumer (the HTTP API, the agent host) declares its own small
// interface and takes either the local engine (accel/engine, on the CPU
// runner accel/cpu) or a remote OpenAI-compatible server (accel/remote).
// The HTTP API is accel/openai. The building blocks are accel/gguf,
// accel/llama (the reference forward pass), accel/tokenizer,
// accel/chattmpl, accel/kvcache, accel/sample, accel/synth and
// accel/detect.
package accel
