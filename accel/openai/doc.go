// Package openai is the OpenAI-compatible HTTP API of the inference
// engine, and the wire types that the remote backend (accel/remote) shares
// with it.
//
// NewHandler serves, over any Backend (the local engine or a remote
// server, both with the same method set):
//
//   - GET /v1/models: {"object":"list","data":[{"id","object":"model",...}]},
//     and GET /v1/models/{id}: one model, or 404 model_not_found.
//   - POST /v1/chat/completions: model, messages (content as a string or
//     text parts; "developer" is taken as "system"), max_tokens or
//     max_completion_tokens, temperature, top_p, seed, stop (string or
//     list), n (1 only), stream, stream_options.include_usage, and the
//     llama.cpp/vLLM extensions top_k, min_p, repetition_penalty (or
//     repeat_penalty). presence_penalty and frequency_penalty are accepted
//     only as 0.
//   - POST /v1/completions: the same with prompt (one string).
//
// A request is decoded (DecodeRequest: syntax and type errors name the
// field), converted to an accel request (ToAccel, which validates ranges)
// and handed to the backend. Non-streamed answers are collected and
// written as one chat.completion or text_completion object with usage.
// Streamed answers are server-sent events, "data: <json>\n\n", flushed per
// token: chat chunks start with a role delta, the last content chunk
// carries finish_reason, an empty-choices chunk with usage follows when
// stream_options.include_usage is set, and "data: [DONE]" ends the stream.
// A stream that stays quiet (a long prefill on a slow CPU) gets an SSE
// comment line, ": keep-alive", every Handler.KeepAlive (15s).
// A failure before the first byte is an HTTP error with OpenAI's error
// object, {"error":{"message","type","param","code"}} (param and code null
// when empty), with the status of the *accel.Error (400 invalid values and
// context_length_exceeded, 404 model_not_found, 503 overloaded); a failure
// mid-stream is sent as one error event, as OpenAI does. The request's
// context is the client's connection: a client that goes away cancels its
// generation.
package openai
