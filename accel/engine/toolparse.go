package engine

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/accel/chattmpl"
)

// splitReply turns the engine's events (text) into a stream whose chunks
// carry the reply's text, its reasoning and its tool calls apart, as the
// parser p splits them. Each parsed call becomes one whole ToolCallDelta
// with an id of its own; a reply that made calls finishes with
// accel.FinishToolCalls (unless it was cut by its length). cancel stops
// the generation; closing the stream calls it.
func splitReply(in <-chan accel.Event, cancel func(), p *chattmpl.Parser) *accel.Stream {
	events := make(chan accel.Event, 16)
	done := make(chan struct{})
	go func() {
		defer close(events)
		calls := 0
		convert := func(pieces []chattmpl.Piece, into *accel.Chunk) {
			for _, pc := range pieces {
				switch pc.Kind {
				case chattmpl.PieceText:
					into.Text += pc.Text
				case chattmpl.PieceReasoning:
					into.Reasoning += pc.Text
				case chattmpl.PieceToolCall:
					into.ToolCalls = append(into.ToolCalls, accel.ToolCallDelta{Index: calls, ID: newCallID(), Name: pc.Call.Name, Arguments: pc.Call.Arguments})
					calls++
				}
			}
		}
		send := func(ev accel.Event) bool {
			select {
			case events <- ev:
				return true
			case <-done:
				return false
			}
		}
		for {
			ev, ok := <-in
			switch {
			case !ok:
				return // the engine always sends a last event; the reader sees io.ErrUnexpectedEOF
			case ev.Err != nil:
				send(ev)
				return
			}
			c := ev.Chunk
			var out accel.Chunk
			convert(p.Feed(c.Text), &out)
			if c.FinishReason != "" {
				convert(p.Flush(), &out)
				out.FinishReason, out.Usage = c.FinishReason, c.Usage
				if calls > 0 && c.FinishReason == accel.FinishStop {
					out.FinishReason = accel.FinishToolCalls
				}
			}
			if out.Text == "" && out.Reasoning == "" && len(out.ToolCalls) == 0 && out.FinishReason == "" {
				continue
			}
			if !send(accel.Event{Chunk: out}) || out.FinishReason != "" {
				return
			}
		}
	}()
	var once sync.Once
	return accel.NewStream(events, func() {
		once.Do(func() {
			cancel()
			close(done)
		})
	})
}

// newCallID is a tool call id in OpenAI's style.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}
