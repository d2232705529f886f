package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// Resume frames (../shared/notes/agents-sdk.md §10.1, §10.5).
const (
	TypeStreamResuming = "cf_agent_stream_resuming"
	TypeResumeRequest  = "cf_agent_stream_resume_request"
	TypeResumeAck      = "cf_agent_stream_resume_ack"
	TypeResumeNone     = "cf_agent_stream_resume_none"
)

// turn is the chat turn that is streaming. Its fields are used only on the
// agent's goroutine (in hooks, and in the events the model goroutine
// posts), except cancel, which is safe anywhere.
type turn struct {
	key        liveKey
	requestID  string
	streamID   string
	requester  string // Key of the connection that asked
	cancel     context.CancelFunc
	b          *builder
	chunks     int             // chunks stored so far
	pending    map[string]bool // connections told "resuming" that have not acknowledged
	cfg        Config
	queue      []queuedTurn // requests waiting for this reply, at most MaxQueuedTurns
	ended      bool
	textOpened bool
}

// liveKey names an agent of one host: a gateway restart (a new host) has
// no live turns, whatever the address.
type liveKey struct {
	host context.Context
	addr wire.Address
}

var live = struct {
	sync.Mutex
	turns map[liveKey]*turn
}{turns: map[liveKey]*turn{}}

func keyOf(ctx *agenthost.Context) liveKey { return liveKey{ctx.Context(), ctx.Address()} }

// liveTurn is the agent's streaming turn, nil when none.
func liveTurn(ctx *agenthost.Context) *turn {
	live.Lock()
	defer live.Unlock()
	return live.turns[keyOf(ctx)]
}

func (t *turn) unregister() {
	live.Lock()
	defer live.Unlock()
	if live.turns[t.key] == t {
		delete(live.turns, t.key)
	}
}

// errTurnOver tells the model goroutine that its turn has ended (cancel,
// clear): it stops reading.
var errTurnOver = errors.New("chat turn over")

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// request starts a turn: store the client's messages, sync them to the
// other connections, then stream the model's reply. Failures that concern
// the request are answered with an error response ({error: true, done:
// true}); a frame with no usable id gets an outpost_error.
func (a *Agent) request(ctx *agenthost.Context, c wire.Conn, frame map[string]any) error {
	req, err := ParseRequest(frame)
	if err != nil {
		f := wire.ErrorFrame(wire.CodeMalformed, err.Error())
		if req.ID != "" {
			f = errorFrame(req.ID, err.Error())
		}
		if serr := c.Send(f); serr != nil {
			ctx.Logger().Debug("chat: error frame not sent", "conn", c.ID(), "error", serr)
		}
		return err
	}
	if t := liveTurn(ctx); t != nil {
		if len(t.queue) >= MaxQueuedTurns {
			return c.Send(errorFrame(req.ID, fmt.Sprintf("chat: %d requests are already waiting for the reply that streams (request %s)", len(t.queue), t.requestID)))
		}
		t.queue = append(t.queue, queuedTurn{conn: c, req: req})
		return nil
	}
	a.startTurn(ctx, c, req, nil)
	return nil
}

// MaxQueuedTurns bounds the requests of one chat that wait for the reply
// that streams; one more is refused with an error response.
const MaxQueuedTurns = 8

// queuedTurn is a request that waits for the reply that streams.
type queuedTurn struct {
	conn wire.Conn
	req  Request
}

// startTurn stores the request's messages and starts the model's reply,
// and reports whether it did; a request it cannot start is answered with
// an error response. queue is what waits after it.
func (a *Agent) startTurn(ctx *agenthost.Context, c wire.Conn, req Request, queue []queuedTurn) bool {
	refuse := func(msg string) bool {
		if err := c.Send(errorFrame(req.ID, msg)); err != nil {
			ctx.Logger().Debug("chat: error frame not sent", "conn", c.ID(), "error", err)
		}
		return false
	}
	if req.Trigger == "regenerate-message" {
		// The client dropped the reply it regenerates: so does the store.
		if err := deleteExcept(ctx, req.Messages); err != nil {
			ctx.Logger().Warn("chat: regenerate", "error", err)
			return refuse("chat: cannot store the messages: " + err.Error())
		}
	}
	if err := a.persist(ctx, req.Messages, c.Key()); err != nil {
		ctx.Logger().Warn("chat: store request messages", "error", err)
		return refuse("chat: cannot store the messages: " + err.Error())
	}
	inf, err := ctx.Inference()
	if err != nil {
		return refuse("chat: this gateway has no model: " + err.Error())
	}
	history, err := loadMessages(ctx)
	if err != nil {
		return refuse("chat: cannot read the messages: " + err.Error())
	}
	var prompt []accel.Message
	if a.cfg.Prompt != nil {
		prompt = a.cfg.Prompt(ctx, history)
	} else {
		prompt = ModelMessages(a.cfg.SystemPrompt, history)
	}
	maxTokens := a.cfg.MaxTokens
	if req.MaxTokens > 0 {
		maxTokens = req.MaxTokens
	}
	temperature := a.cfg.Temperature
	if req.Temperature != nil {
		temperature = req.Temperature
	}
	chatReq := accel.ChatRequest{Model: a.cfg.Model, Messages: prompt, Sampling: accel.Sampling{MaxTokens: maxTokens, Temperature: temperature}}

	sctx, cancel := context.WithCancel(ctx.Context())
	t := &turn{
		key: keyOf(ctx), requestID: req.ID, streamID: randomID("stream_", 8), requester: c.Key(), cancel: cancel,
		b: newBuilder(fmt.Sprintf("assistant_%d_%s", ctx.Now().UnixMilli(), randomID("", 4))), pending: map[string]bool{},
		cfg: a.cfg, queue: queue,
	}
	if err := startStream(ctx, t.streamID, t.requestID); err != nil {
		cancel()
		return refuse("chat: " + err.Error())
	}
	live.Lock()
	live.turns[t.key] = t
	live.Unlock()
	t.emit(ctx, map[string]any{"type": "start", "messageId": t.b.msg.ID})
	ctx.Spawn(func(hctx context.Context, run func(func(*agenthost.Context) error) error) {
		defer cancel()
		defer t.unregister() // after the host closed, no event will
		t.stream(hctx, sctx, inf, chatReq, run)
	})
	return true
}

// next starts the first waiting request that can start, handing it the
// rest of the queue.
func (t *turn) next(ctx *agenthost.Context) {
	a := &Agent{cfg: t.cfg}
	for len(t.queue) > 0 {
		q := t.queue[0]
		t.queue = t.queue[1:]
		if a.startTurn(ctx, q.conn, q.req, t.queue) {
			return
		}
	}
}

// stream runs on the model goroutine: it opens the model stream and posts
// each chunk to the agent. When the host shuts down it stops without
// posting: the stream stays recorded as streaming, and the next start
// closes it as a restart would.
func (t *turn) stream(hctx, sctx context.Context, inf agenthost.Inference, req accel.ChatRequest, run func(func(*agenthost.Context) error) error) {
	fail := func(err error) {
		if hctx.Err() != nil {
			return
		}
		_ = run(func(ctx *agenthost.Context) error { return t.fail(ctx, err) })
	}
	if req.Model == "" {
		models, err := inf.Models(sctx)
		if err == nil && len(models) == 0 {
			err = errors.New("the inference backend lists no model")
		}
		if err != nil {
			fail(err)
			return
		}
		req.Model = models[0].ID
	}
	s, err := openFitting(sctx, inf, req)
	if err != nil {
		fail(err)
		return
	}
	defer s.Close()
	for {
		ch, err := s.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fail(err)
			}
			return
		}
		if run(func(ctx *agenthost.Context) error { return t.token(ctx, ch) }) != nil {
			return // the turn is over, or the host closed
		}
		if ch.FinishReason != "" {
			return
		}
	}
}

// openFitting opens the model stream; while the backend says the
// conversation is longer than the model's context, it drops the older half
// of the turns after the leading system prompt (the last turn always
// stays) and tries again. The stored history keeps every message.
func openFitting(ctx context.Context, inf agenthost.Inference, req accel.ChatRequest) (*accel.Stream, error) {
	for {
		s, err := inf.Chat(ctx, req)
		if err == nil || !errors.Is(err, accel.ErrContextLength) {
			return s, err
		}
		head := 0
		if len(req.Messages) > 0 && req.Messages[0].Role == RoleSystem {
			head = 1
		}
		turns := len(req.Messages) - head
		if turns <= 1 {
			return nil, err
		}
		drop := turns / 2
		req.Messages = append(append([]accel.Message(nil), req.Messages[:head]...), req.Messages[head+drop:]...)
	}
}

// emit stores a chunk, applies it to the message and broadcasts it to
// every connection but those waiting to resume. A chunk that cannot be
// stored is still sent (as the SDK does with chunks over the row limit).
func (t *turn) emit(ctx *agenthost.Context, chunk map[string]any) {
	if body, err := jsonCodec.Marshal(chunk); err != nil {
		ctx.Logger().Warn("chat: chunk not stored", "error", err)
	} else if err := storeChunk(ctx, t.streamID, t.chunks, body); err != nil {
		ctx.Logger().Warn("chat: chunk not stored", "error", err)
	} else {
		t.chunks++
	}
	t.b.apply(chunk)
	ctx.Broadcast(chunkFrame(t.requestID, chunk), t.pendingKeys()...)
}

func (t *turn) pendingKeys() []string {
	keys := make([]string, 0, len(t.pending))
	for k := range t.pending {
		keys = append(keys, k)
	}
	return keys
}

// token handles one model chunk on the agent's goroutine.
func (t *turn) token(ctx *agenthost.Context, ch accel.Chunk) error {
	if t.ended {
		return errTurnOver
	}
	if ch.Text != "" {
		if !t.textOpened {
			t.textOpened = true
			t.emit(ctx, map[string]any{"type": "text-start", "id": t.requestID})
		}
		t.emit(ctx, map[string]any{"type": "text-delta", "id": t.requestID, "delta": ch.Text})
	}
	if ch.FinishReason != "" {
		t.end(ctx, ch.FinishReason, "")
	}
	return nil
}

// end finishes the turn: close the text part, send finish (unless
// cancelled: reason ""), store the assistant message, mark the stream,
// then send the terminal frame, an error response when errMsg is set.
func (t *turn) end(ctx *agenthost.Context, reason, errMsg string) {
	t.ended = true
	t.unregister()
	if t.textOpened {
		t.emit(ctx, map[string]any{"type": "text-end", "id": t.requestID})
	}
	if reason != "" {
		t.emit(ctx, map[string]any{"type": "finish", "messageMetadata": map[string]any{"finishReason": reason}})
	}
	t.b.closeTexts()
	status := statusCompleted
	if errMsg != "" {
		status = statusError
	}
	if msg := t.b.message(); len(msg.Parts) > 0 {
		if err := upsertMessages(ctx, []Message{msg}, t.cfg.MaxPersistedMessages); err != nil {
			ctx.Logger().Warn("chat: store the reply", "error", err)
			status, errMsg = statusError, "chat: cannot store the reply: "+err.Error()
		} else if all, err := loadMessages(ctx); err == nil {
			ctx.Broadcast(messagesFrame(all), t.requester)
		}
	}
	if err := endStream(ctx, t.streamID, status); err != nil {
		ctx.Logger().Warn("chat: end stream", "error", err)
	}
	var err error
	if errMsg != "" {
		err = errors.New(errMsg)
		ctx.Broadcast(errorFrame(t.requestID, errMsg))
	} else {
		ctx.Broadcast(doneFrame(t.requestID))
	}
	if t.cfg.OnFinish != nil {
		t.cfg.OnFinish(ctx, t.b.message(), reason, err)
	}
	t.next(ctx)
}

// fail ends the turn after the model failed; what streamed is kept.
func (t *turn) fail(ctx *agenthost.Context, err error) error {
	if t.ended {
		return errTurnOver
	}
	ctx.Logger().Warn("chat: model failed", "request", t.requestID, "error", err)
	t.end(ctx, "", "chat: the model failed: "+err.Error())
	return nil
}

// abort ends the turn and drops the waiting requests without storing
// anything more (clear); each gets its terminal frame.
func (t *turn) abort(ctx *agenthost.Context) {
	t.ended = true
	t.cancel()
	t.unregister()
	ctx.Broadcast(doneFrame(t.requestID))
	for _, q := range t.queue {
		ctx.Broadcast(doneFrame(q.req.ID))
	}
	t.queue = nil
}

// cancel ends the streaming turn with that request id: the model stops,
// the partial reply is stored, done is sent, and the next waiting request
// starts. A waiting request with that id is dropped (done is sent). Another
// id changes nothing, as in the SDK.
func (a *Agent) cancel(ctx *agenthost.Context, id string) error {
	t := liveTurn(ctx)
	if t == nil {
		return nil
	}
	if t.requestID == id {
		t.cancel()
		t.end(ctx, "", "")
		return nil
	}
	for i, q := range t.queue {
		if q.req.ID == id {
			t.queue = append(t.queue[:i:i], t.queue[i+1:]...)
			ctx.Broadcast(doneFrame(id))
			break
		}
	}
	return nil
}

// offerResume tells c that a reply is streaming; c gets no live chunks
// until it acknowledges (resumeAck). probeID, when not empty, is the
// client's resume request's probeId, echoed.
func (t *turn) offerResume(c wire.Conn, probeID string) error {
	t.pending[c.Key()] = true
	f := map[string]any{"type": TypeStreamResuming, "id": t.requestID}
	if probeID != "" {
		f["probeId"] = probeID
	}
	return c.Send(wire.Frame{Kind: wire.Chat, Value: f})
}

// resumeRequest answers a client that asks whether a reply is streaming:
// cf_agent_stream_resuming, or cf_agent_stream_resume_none (with the
// client's probeId, as the SDK since ai-chat 0.1.8 does), so that the
// client stops waiting at once.
func (a *Agent) resumeRequest(ctx *agenthost.Context, c wire.Conn, probeID string) error {
	if t := liveTurn(ctx); t != nil {
		return t.offerResume(c, probeID)
	}
	f := map[string]any{"type": TypeResumeNone}
	if probeID != "" {
		f["probeId"] = probeID
	}
	return c.Send(wire.Frame{Kind: wire.Chat, Value: f})
}

// resumeAck replays the stored chunks of the streaming turn to c, flagged
// replay: true; the live chunks follow, each exactly once, because storing
// and broadcasting a chunk is one event of the agent.
func (a *Agent) resumeAck(ctx *agenthost.Context, c wire.Conn, id string) error {
	t := liveTurn(ctx)
	if t == nil || t.requestID != id || !t.pending[c.Key()] {
		return nil
	}
	delete(t.pending, c.Key())
	chunks, err := streamChunks(ctx, t.streamID)
	if err != nil {
		return err
	}
	for _, ch := range chunks {
		f := chunkFrame(t.requestID, ch)
		f.Value.(map[string]any)["replay"] = true
		if err := c.Send(f); err != nil {
			return err
		}
	}
	return nil
}
