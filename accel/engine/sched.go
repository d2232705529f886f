package engine

import (
	"context"
	"slices"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/cpu"
	"github.com/outpost-iot/outpost/accel/sample"
	"github.com/outpost-iot/outpost/accel/tokenizer"
)

// request is one generation, owned by the scheduler goroutine once
// submitted.
type request struct {
	id     int64
	ctx    context.Context
	cancel context.CancelFunc
	out    chan accel.Event

	prompt    int     // number of prompt tokens
	tokens    []int32 // prompt, then every sampled token
	computed  int     // leading tokens whose K/V are in the pool
	maxTokens int

	sampler *sample.Sampler
	dec     *tokenizer.Decoder
	stop    *sample.StopMatcher
	tok     *tokenizer.Tokenizer
	created time.Time
}

func (r *request) generated() int { return len(r.tokens) - r.prompt }

// loop is the scheduler goroutine: it owns the queues, the KV manager and
// the runner.
func (e *Engine) loop() {
	defer close(e.done)
	defer e.runner.Close() // its worker goroutines
	if e.hold != nil {
		<-e.hold // tests: wait until every request is submitted
	}
	for e.receive() {
		e.reap()
		e.step()
	}
	e.shutdown()
}

// receive moves submitted requests to the waiting queue, blocking while
// there is nothing to do. It returns false when the engine is closing.
func (e *Engine) receive() bool {
	block := len(e.running) == 0 && len(e.waiting) == 0
	if block {
		e.publish()
	}
	for {
		var r *request
		if block {
			select {
			case r = <-e.submit:
			case <-e.quit:
				return false
			}
		} else {
			select {
			case r = <-e.submit:
			case <-e.quit:
				return false
			default:
				return true
			}
		}
		e.waiting = append(e.waiting, r)
		block = false
	}
}

// shutdown ends every request with ErrClosed, including any still in the
// submit channel (Close has set closed, so no more arrive).
func (e *Engine) shutdown() {
	for {
		select {
		case r := <-e.submit:
			e.waiting = append(e.waiting, r)
			continue
		default:
		}
		break
	}
	for _, r := range slices.Concat(e.running, e.waiting) {
		e.finish(r, "", accel.ErrClosed)
	}
	e.publish()
}

// reap ends requests whose context is done (client gone, Stream.Close).
func (e *Engine) reap() {
	for _, r := range slices.Concat(e.running, e.waiting) {
		if err := r.ctx.Err(); err != nil {
			e.finish(r, "", err)
		}
	}
}

// finish frees r's blocks, removes it from the queues and sends its last
// event: the final chunk (reason set) or err.
func (e *Engine) finish(r *request, reason string, err error) {
	e.kv.FreeSeq(r.id)
	e.running = slices.DeleteFunc(e.running, func(x *request) bool { return x == r })
	e.waiting = slices.DeleteFunc(e.waiting, func(x *request) bool { return x == r })
	ev := accel.Event{Err: err}
	if err == nil {
		text, stopped := r.stop.Add(r.dec.Flush())
		if !stopped {
			text += r.stop.Flush()
		}
		n := r.generated()
		ev.Chunk = accel.Chunk{Text: text, FinishReason: reason, Usage: &accel.Usage{PromptTokens: r.prompt, CompletionTokens: n, TotalTokens: r.prompt + n}}
	}
	// One slot is always kept free for this event (see emit).
	select {
	case r.out <- ev:
	default:
	}
	close(r.out)
	r.cancel()
	e.inflight.Add(-1)
}

// emit sends a text chunk without blocking. A consumer that lets the
// buffer fill up (all but the slot reserved for the last event) is too
// slow: its request is cancelled with ErrSlowConsumer.
func (e *Engine) emit(r *request, text string) bool {
	if text == "" {
		return true
	}
	if len(r.out) >= cap(r.out)-1 {
		e.finish(r, "", accel.ErrSlowConsumer)
		return false
	}
	r.out <- accel.Event{Chunk: accel.Chunk{Text: text}}
	return true
}

// preempt frees the most recently admitted running request's blocks and
// puts it back at the head of the waiting queue (recompute preemption).
func (e *Engine) preempt() {
	v := e.running[len(e.running)-1]
	e.running = e.running[:len(e.running)-1]
	e.kv.FreeSeq(v.id)
	v.computed = 0
	e.waiting = slices.Insert(e.waiting, 0, v)
	e.statsMu.Lock()
	e.stats.Preemptions++
	e.statsMu.Unlock()
}

// admit allocates blocks for r's tokens and sets how many are already
// computed: the prefix-cache hit, cut back to the first block whose K/V
// are not yet written (a prefill still in progress elsewhere).
func (e *Engine) admit(r *request) {
	e.kv.Allocate(r.id, r.tokens)
	bt := e.cfg.BlockTokens
	table := e.kv.BlockTable(r.id)
	cached := e.kv.NumCachedTokens(r.id)
	r.computed = cached
	for i := 0; i < cached/bt; i++ {
		if !e.ready[table[i]] {
			r.computed = i * bt
			break
		}
	}
	for _, b := range table[cached/bt:] {
		e.ready[b] = false
	}
	e.statsMu.Lock()
	e.stats.CachedTokens += int64(r.computed)
	e.statsMu.Unlock()
}

// step schedules one batch (decodes first, then prefill chunks within the
// token budget), runs it and samples.
func (e *Engine) step() {
	t0 := time.Now()
	bt := e.cfg.BlockTokens
	budget := e.cfg.TokenBudget

	// Decodes need a slot for their pending token; preempt until they fit.
	for len(e.running) > 0 {
		need := 0
		for _, r := range e.running {
			if r.computed == e.kv.Len(r.id) && e.kv.NeedsBlock(r.id) {
				need++
			}
		}
		if e.kv.CanAppend(need) {
			break
		}
		e.preempt()
	}
	var batch []cpu.Seq
	var reqs []*request
	decodes := 0
	add := func(r *request, n int) {
		end := r.computed + n
		batch = append(batch, cpu.Seq{Pos: r.computed, Tokens: r.tokens[r.computed:end], Logits: end == len(r.tokens)})
		reqs = append(reqs, r)
		budget -= n
	}
	for _, r := range e.running {
		if r.computed == e.kv.Len(r.id) {
			if !e.kv.Append(r.id, r.tokens[len(r.tokens)-1]) {
				panic("engine: Append failed after CanAppend")
			}
			if e.kv.Len(r.id)%bt == 1 || bt == 1 {
				tbl := e.kv.BlockTable(r.id)
				e.ready[tbl[len(tbl)-1]] = false
			}
			add(r, 1)
			decodes++
		}
	}
	// Prefill chunks: running requests mid-prompt, then new admissions.
	for _, r := range e.running {
		if budget <= 0 {
			break
		}
		if n := min(len(r.tokens)-r.computed, budget); !slices.Contains(reqs, r) && n > 0 {
			add(r, n)
		}
	}
	for budget > 0 && len(e.waiting) > 0 && len(e.running) < e.cfg.MaxSeqs {
		r := e.waiting[0]
		if !e.kv.CanAllocate(r.tokens) {
			break
		}
		e.waiting = e.waiting[1:]
		e.admit(r)
		e.running = append(e.running, r)
		add(r, min(len(r.tokens)-r.computed, budget))
	}
	if len(batch) == 0 {
		e.publish()
		return
	}
	for i, r := range reqs {
		batch[i].Blocks = e.kv.BlockTable(r.id)
	}
	t1 := time.Now()
	logits := e.runner.Forward(batch)
	fwd := time.Since(t1)
	if logits == nil { // aborted by Close; shutdown frees everything
		return
	}

	tokens := 0
	generated := 0
	for i, r := range reqs {
		before := r.computed
		r.computed += len(batch[i].Tokens)
		tokens += len(batch[i].Tokens)
		for b := before / bt; b < r.computed/bt; b++ {
			e.ready[batch[i].Blocks[b]] = true
		}
		if logits[i] == nil {
			continue
		}
		generated++
		e.sampleNext(r, logits[i])
	}
	e.statsMu.Lock()
	e.stats.Steps++
	e.stats.DecodeTokens += int64(decodes)
	e.stats.PrefillTokens += int64(tokens - decodes)
	e.stats.Generated += int64(generated)
	e.stats.ForwardTime += fwd
	st := time.Since(t0)
	e.stats.StepTime += st
	if tokens == decodes {
		e.stats.DecodeSteps++
		e.stats.DecodeStepTokens += int64(decodes)
		e.stats.DecodeStepTime += st
	}
	e.stats.MaxBatchTokens = max(e.stats.MaxBatchTokens, tokens)
	e.statsMu.Unlock()
	e.publish()
}

// sampleNext draws r's next token from logits, streams its text and ends
// the request on an end-of-generation token, a stop string, max tokens or
// the context length.
func (e *Engine) sampleNext(r *request, logits []float32) {
	tok := r.sampler.Sample(logits, r.tokens)
	r.tokens = append(r.tokens, tok)
	if r.tok.IsEOG(tok) {
		e.finish(r, accel.FinishStop, nil)
		return
	}
	text, stopped := r.stop.Add(r.dec.Add(tok))
	if !e.emit(r, text) {
		return
	}
	switch {
	case stopped:
		e.finish(r, accel.FinishStop, nil)
	case r.generated() >= r.maxTokens:
		e.finish(r, accel.FinishLength, nil)
	}
}

// publish copies the queue and pool sizes into the stats snapshot.
func (e *Engine) publish() {
	e.statsMu.Lock()
	e.stats.Running = len(e.running)
	e.stats.Waiting = len(e.waiting)
	e.stats.UsedBlocks = e.kv.Used()
	e.stats.FreeBlocks = e.kv.Free()
	e.statsMu.Unlock()
}
