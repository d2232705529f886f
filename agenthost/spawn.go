package agenthost

import "context"

// Spawn runs work on a goroutine of its own, for what must not block the
// agent: reading a model's token stream, waiting on a remote call. The host
// owns the goroutine: ctx is cancelled when the gateway shuts down, and
// Close waits for work to return. work reaches the agent only through run,
// which executes fn on the agent's goroutine as an event of its own (waking
// the agent if it hibernated, in order with the agent's other events) and
// returns fn's error once it ran; because run waits, a fast producer is
// paced by the agent. run fails with ErrHostClosed after shutdown, and fn
// never runs then.
func (c *Context) Spawn(work func(ctx context.Context, run func(fn func(*Context) error) error)) {
	h, addr := c.in.h, c.in.addr
	run := func(fn func(*Context) error) error {
		done := make(chan error, 1)
		err := h.post(addr, event{kind: evFunc, fn: func(in *instance) error { return fn(in.ctx) }, done: func(err error) { done <- err }}, false)
		if err != nil {
			return err
		}
		return <-done
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		work(h.ctx, run)
	}()
}
