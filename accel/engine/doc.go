// Package engine is the local inference engine: one model, one scheduler
// goroutine doing continuous batching over a paged KV cache, and the CPU
// runner (accel/cpu). Engine has the same method set as the remote backend
// (Models, Chat, Complete with the accel request types and *accel.Stream),
// so the HTTP API and the agents use either through their own small
// interface.
//
// # Flow
//
// Chat renders the conversation with the model's chat template
// (accel/chattmpl) and tokenizes it; Complete tokenizes the raw prompt.
// The request is validated (sampling ranges, prompt shorter than the
// context: errors are *accel.Error values with OpenAI's status, type and
// code) and handed to the scheduler over a channel whose capacity is the
// in-flight limit (MaxQueue + MaxSeqs), so submitting never blocks; beyond
// the limit the caller gets accel.ErrOverloaded.
//
// The scheduler goroutine owns every request, the kvcache.Manager and the
// runner. Each step it
//
//  1. ends requests whose context is done (the HTTP client went away, or
//     the consumer closed its Stream) and frees their blocks;
//  2. gives every running request that has finished its prompt a slot for
//     its pending token (kvcache Append), preempting the most recently
//     admitted request by recompute while the pool is short: its blocks
//     are freed (full ones stay in the prefix cache) and it goes back to
//     the head of the waiting queue with prompt+generated tokens, to be
//     re-prefilled later; its sampler state and output continue;
//  3. fills the rest of the token budget with prefill chunks: first of
//     running requests still in their prompt, then of waiting requests
//     admitted in FIFO order while their blocks fit and the batch has
//     fewer than MaxSeqs sequences;
//  4. runs one batched forward pass and samples the next token of every
//     sequence that produced logits (the last chunk of a prompt, or a
//     decode), detokenizes it incrementally, matches stop strings and
//     streams the text; a request ends at an end-of-generation token, a
//     stop string, max tokens or the context length.
//
// Prefix caching: kvcache registers a prompt's full blocks at Allocate,
// before their keys and values are written. The engine keeps a per-block
// "written" flag; a request that hits blocks that a prefill still in
// progress has not written yet recomputes from the first such block
// (writing the same values into the shared block), so it never reads
// unwritten memory.
//
// # Output never blocks the scheduler
//
// Detokenization and stop matching are cheap and run on the scheduler
// goroutine (they decide when a request ends). Each request's chunks go
// into a buffered channel of StreamBuffer chunks (default 1024, or the
// request's max tokens + 2 when smaller: then it can never fill). The
// scheduler never waits on it: a consumer that falls a full buffer behind
// is dropped, its request cancelled with accel.ErrSlowConsumer and its
// blocks freed. One slot is kept free for the final chunk or error, which
// is always delivered before the channel is closed.
package engine
