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

// turn is the chat turn that is streaming. Its fields are used only on the
// agent's goroutine (in hooks, and in the events the model goroutine
// posts), except cancel, which is safe anywhere, and the fields set
// before the model goroutine starts and never changed (the tools, the
// sampling, continuation).
type turn struct {
	key          liveKey
	requestID    string
	streamID     string
	requester    string // Key of the connection that asked
	continuation bool   // a continuation after a tool result or an approval: frames say so
	extends      bool   // the reply goes on with a stored assistant message (approved calls run first)
	attached     bool   // a continuation's requester acknowledged resuming
	cancel       context.CancelFunc
	b            *builder
	chunks       int             // chunks stored so far
	pending      map[string]bool // connections told "resuming" that have not acknowledged
	cfg          Config
	queue        []queuedTurn // requests waiting for this reply, at most MaxQueuedTurns
	ended        bool
	cancelled    bool // ended by cf_agent_chat_request_cancel

	tools    toolSet
	offered  []accel.Tool // the tools the model is offered
	maxSteps int
	sampling accel.Sampling

	step      int
	stepOpen  bool
	open      map[string]string   // open text and reasoning parts: kind → chunk id
	calls     map[int]*streamCall // this step's tool calls, by key
	callOrder []int               // their keys, in order
	callKeys  map[int]int         // the model's call index → the key of its latest call
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
	// missed holds, per agent and connection key, the continuation a
	// connection asked for (a tool result or an approval) that ended
	// before it attached: its resume request still gets it (replayed,
	// then done), however fast the model was.
	missed map[liveKey]map[string]missedTurn
}{turns: map[liveKey]*turn{}, missed: map[liveKey]map[string]missedTurn{}}

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
	return a.enqueue(ctx, queuedTurn{conn: c, req: req})
}

// enqueue starts q now, or queues it behind the reply that streams. A
// queued request is stored (outpost_chat_queue) before it is
// acknowledged, so that a restart does not lose it.
func (a *Agent) enqueue(ctx *agenthost.Context, q queuedTurn) error {
	if t := liveTurn(ctx); t != nil {
		if len(t.queue) >= MaxQueuedTurns {
			err := fmt.Errorf("%w: %d wait for the reply that streams (request %s)", ErrQueueFull, len(t.queue), t.requestID)
			if q.continuation {
				return err // the tool frame that asked for it is answered (OnMessage)
			}
			if serr := q.conn.Send(errorFrame(q.req.ID, err.Error())); serr != nil {
				ctx.Logger().Debug("chat: error frame not sent", "conn", q.conn.ID(), "error", serr)
			}
			return err
		}
		seq, err := storeQueued(ctx, q)
		if err != nil {
			return q.conn.Send(errorFrame(q.req.ID, "chat: cannot queue the request: "+err.Error()))
		}
		q.seq = seq
		t.queue = append(t.queue, q)
		return nil
	}
	a.startTurn(ctx, q, nil)
	return nil
}

// startQueued starts the first of queue that can start (each leaves the
// store as it is taken), handing it the rest; it returns the turn, nil
// when none could start.
func (a *Agent) startQueued(ctx *agenthost.Context, queue []queuedTurn) *turn {
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		if err := deleteQueued(ctx, q.seq); err != nil {
			ctx.Logger().Warn("chat: unqueue a request", "request", q.req.ID, "error", err)
		}
		if t := a.startTurn(ctx, q, queue); t != nil {
			return t
		}
	}
	return nil
}

// MaxQueuedTurns bounds the requests of one chat that wait for the reply
// that streams; one more is refused with an error response.
const MaxQueuedTurns = 8

// queuedTurn is a request that waits for the reply that streams, or a
// continuation (after a tool result or an approval), whose request has an
// id of the agent's and no messages.
type queuedTurn struct {
	conn         wire.Conn // nil for a request restored after a restart: its answers are broadcast
	req          Request
	continuation bool
	seq          int64       // its row in outpost_chat_queue, 0 when not stored
	awaiting     []wire.Conn // connections told it is pending: told resuming when it starts
}

// key is the requester's connection key, "" when it is gone.
func (q queuedTurn) key() string {
	if q.conn == nil {
		return ""
	}
	return q.conn.Key()
}

// send sends f to the requester, or to every connection when it is gone.
func (q queuedTurn) send(ctx *agenthost.Context, f wire.Frame) {
	if q.conn == nil {
		ctx.Broadcast(f)
		return
	}
	if err := q.conn.Send(f); err != nil {
		ctx.Logger().Debug("chat: frame not sent", "conn", q.conn.ID(), "error", err)
	}
}

// startTurn stores the request's messages (a continuation has none: it
// goes on with the last assistant message) and starts the model's reply;
// it returns the turn, or nil after answering a request it cannot start
// with an error response. queue is what waits after it.
func (a *Agent) startTurn(ctx *agenthost.Context, q queuedTurn, queue []queuedTurn) *turn {
	req := q.req
	refuse := func(msg string) *turn {
		f := errorFrame(req.ID, msg)
		if q.continuation {
			f.Value.(map[string]any)["continuation"] = true
		}
		q.send(ctx, f)
		for _, c := range q.awaiting {
			if err := c.Send(wire.Frame{Kind: wire.Chat, Value: map[string]any{"type": TypeResumeNone}}); err != nil {
				ctx.Logger().Debug("chat: resume none not sent", "conn", c.ID(), "error", err)
			}
		}
		return nil
	}
	if q.continuation {
		// The last request's body and client tools, as stored.
		body, _ := requestContext(ctx, contextLastBody).(map[string]any)
		applyBody(&req, body)
		req.ClientTools = parseClientTools(requestContext(ctx, contextLastClientTools))
	} else {
		if req.Trigger == "regenerate-message" {
			// The client dropped the reply it regenerates: so does the store.
			if err := deleteExcept(ctx, req.Messages); err != nil {
				ctx.Logger().Warn("chat: regenerate", "error", err)
				return refuse("chat: cannot store the messages: " + err.Error())
			}
		}
		if err := a.persist(ctx, req.Messages, q.key()); err != nil {
			ctx.Logger().Warn("chat: store request messages", "error", err)
			return refuse("chat: cannot store the messages: " + err.Error())
		}
		if err := storeRequestContext(ctx, req); err != nil {
			ctx.Logger().Warn("chat: store the request context", "error", err)
		}
		setMissed(keyOf(ctx), q.key(), missedTurn{}) // a new turn supersedes it
	}
	inf, err := ctx.Inference()
	if err != nil {
		return refuse("chat: this gateway has no model: " + err.Error())
	}
	history, err := loadMessages(ctx)
	if err != nil {
		return refuse("chat: cannot read the messages: " + err.Error())
	}
	maxTokens := a.cfg.MaxTokens
	if req.MaxTokens > 0 {
		maxTokens = req.MaxTokens
	}
	temperature := a.cfg.Temperature
	if req.Temperature != nil {
		temperature = req.Temperature
	}
	b := newBuilder(fmt.Sprintf("assistant_%d_%s", ctx.Now().UnixMilli(), randomID("", 4)))
	extends := q.continuation
	if q.continuation {
		last := lastAssistant(history)
		if last == nil {
			return refuse("chat: nothing to continue: no assistant message")
		}
		b = continueBuilder(*last)
	} else if last := continuable(req.Messages, history); last != nil {
		// A request whose last message is an assistant message with its
		// tool calls answered (a client that sends after approvals or
		// tool outputs instead of autoContinue) goes on with it.
		b, extends = continueBuilder(*last), true
	}
	sctx, cancel := context.WithCancel(ctx.Context())
	t := &turn{
		key: keyOf(ctx), requestID: req.ID, streamID: randomID("stream_", 8), requester: q.key(), cancel: cancel,
		continuation: q.continuation, extends: extends, b: b, pending: map[string]bool{}, cfg: a.cfg, queue: queue,
		tools: newToolSet(a.cfg.Tools, req.ClientTools), maxSteps: a.cfg.MaxSteps,
		sampling: accel.Sampling{MaxTokens: maxTokens, Temperature: temperature}, open: map[string]string{},
	}
	t.offered = t.tools.accel(a.cfg.Tools, req.ClientTools)
	if err := startStream(ctx, t.streamID, t.requestID); err != nil {
		cancel()
		return refuse("chat: " + err.Error())
	}
	if extends {
		if err := storeStreamBase(ctx, t.streamID, b.message()); err != nil {
			cancel()
			_ = endStream(ctx, t.streamID, statusError)
			return refuse("chat: " + err.Error())
		}
	}
	live.Lock()
	live.turns[t.key] = t
	live.Unlock()
	for _, c := range q.awaiting {
		if err := t.offerResume(c, ""); err != nil {
			ctx.Logger().Debug("chat: resuming not sent", "conn", c.ID(), "error", err)
		}
	}
	t.emit(ctx, map[string]any{"type": "start", "messageId": t.b.msg.ID})
	ctx.Spawn(func(hctx context.Context, run func(func(*agenthost.Context) error) error) {
		defer cancel()
		defer t.unregister() // after the host closed, no event will
		t.run(hctx, sctx, inf, run)
	})
	return t
}

// continuable is the stored copy of msgs' last message when it is an
// assistant message with tool calls none of which waits (each has an
// output, or a person's decision), nil otherwise.
func continuable(msgs, history []Message) *Message {
	if len(msgs) == 0 || msgs[len(msgs)-1].Role != RoleAssistant {
		return nil
	}
	id := msgs[len(msgs)-1].ID
	for i := range history {
		if history[i].ID != id {
			continue
		}
		calls := 0
		for _, p := range history[i].Parts {
			if !isToolPart(p) {
				continue
			}
			if toolStateRank(p["state"]) < 3 {
				return nil
			}
			calls++
		}
		if calls > 0 {
			return &history[i]
		}
	}
	return nil
}

// lastAssistant is the last assistant message of history, nil when none.
func lastAssistant(history []Message) *Message {
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == RoleAssistant {
			return &history[i]
		}
	}
	return nil
}

// next starts the first waiting request that can start, handing it the
// rest of the queue.
func (t *turn) next(ctx *agenthost.Context) {
	a := &Agent{cfg: t.cfg}
	queue := t.queue
	t.queue = nil
	a.startQueued(ctx, queue)
}

// run runs on the model goroutine: it resolves the approvals a
// continuation goes on from, then runs the steps (a model call, then the
// server tools it called) until the model answers without a call, a call
// waits for a client or a person, or MaxSteps model calls were made. Each
// chunk is posted to the agent. When the host shuts down it stops without
// posting: the stream stays recorded as streaming, and the next start
// closes it as a restart would.
func (t *turn) run(hctx, sctx context.Context, inf agenthost.Inference, run func(func(*agenthost.Context) error) error) {
	fail := func(err error) {
		if hctx.Err() != nil {
			return
		}
		_ = run(func(ctx *agenthost.Context) error { return t.fail(ctx, err) })
	}
	model := t.cfg.Model
	if model == "" {
		models, err := inf.Models(sctx)
		if err == nil && len(models) == 0 {
			err = errors.New("the inference backend lists no model")
		}
		if err != nil {
			fail(err)
			return
		}
		model = models[0].ID
	}
	if t.extends {
		var todo []toolRun
		if run(func(ctx *agenthost.Context) error {
			if t.ended {
				return errTurnOver
			}
			todo = t.resolveApprovals(ctx)
			return nil
		}) != nil {
			return
		}
		if !t.execute(sctx, todo, run) {
			return
		}
	}
	for {
		var req accel.ChatRequest
		if run(func(ctx *agenthost.Context) error {
			if t.ended {
				return errTurnOver
			}
			req = t.request(ctx)
			t.startStep(ctx)
			return nil
		}) != nil {
			return
		}
		req.Model = model
		reason, ok := t.stream(sctx, inf, req, run, fail)
		if !ok {
			return
		}
		var todo []toolRun
		final := false
		if run(func(ctx *agenthost.Context) error {
			if t.ended {
				return errTurnOver
			}
			todo, final = t.endStep(ctx, reason)
			return nil
		}) != nil {
			return
		}
		if !t.execute(sctx, todo, run) {
			return
		}
		if run(func(ctx *agenthost.Context) error {
			if t.ended {
				return errTurnOver
			}
			t.finishStep(ctx)
			if final {
				t.end(ctx, uiToolCalls, "")
			}
			return nil
		}) != nil || final {
			return
		}
	}
}

// stream reads one model call, posting each chunk; it returns the finish
// reason, or false when the turn is over (the failure was posted).
func (t *turn) stream(sctx context.Context, inf agenthost.Inference, req accel.ChatRequest, run func(func(*agenthost.Context) error) error, fail func(error)) (string, bool) {
	s, err := openFitting(sctx, inf, req)
	if err != nil {
		fail(err)
		return "", false
	}
	defer s.Close()
	for {
		ch, err := s.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fail(err)
			}
			return "", false
		}
		if run(func(ctx *agenthost.Context) error { return t.token(ctx, ch) }) != nil {
			return "", false // the turn is over, or the host closed
		}
		if ch.FinishReason != "" {
			return ch.FinishReason, true
		}
	}
}

// request is the model request of the next step: the stored history, the
// message being built in place of its stored copy (a continuation's, or
// one stored early for an approval), as Config.Prompt or ModelMessages
// make it, with the turn's tools and sampling.
func (t *turn) request(ctx *agenthost.Context) accel.ChatRequest {
	history, err := loadMessages(ctx)
	if err != nil {
		ctx.Logger().Warn("chat: read the messages for the next step", "error", err)
	}
	msg := t.b.message()
	replaced := false
	for i := range history {
		if history[i].ID == msg.ID {
			history[i], replaced = msg, true
		}
	}
	if !replaced && len(msg.Parts) > 0 {
		history = append(history, msg)
	}
	var prompt []accel.Message
	if t.cfg.Prompt != nil {
		prompt = t.cfg.Prompt(ctx, history)
	} else {
		prompt = ModelMessages(t.cfg.SystemPrompt, history)
	}
	return accel.ChatRequest{Model: t.cfg.Model, Messages: prompt, Tools: t.offered, Sampling: t.sampling}
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
		// A tool result never starts the kept turns: its call was dropped.
		for head+drop < len(req.Messages)-1 && req.Messages[head+drop].Role == "tool" {
			drop++
		}
		req.Messages = append(append([]accel.Message(nil), req.Messages[:head]...), req.Messages[head+drop:]...)
	}
}

// emit stores a chunk, applies it to the message and broadcasts it to
// every connection but those waiting to resume. A chunk that cannot be
// stored is still sent (as the SDK does with chunks over the row limit).
func (t *turn) emit(ctx *agenthost.Context, chunk map[string]any) {
	t.b.apply(chunk)
	t.send(ctx, chunk)
}

// send stores and broadcasts a chunk already applied to the message. A
// stored chunk's frame carries its index as seq (as the SDK's do: its
// client drops replayed continuation chunks it already applied).
func (t *turn) send(ctx *agenthost.Context, chunk map[string]any) {
	f := t.frame(chunkFrame(t.requestID, chunk))
	if body, err := jsonCodec.Marshal(chunk); err != nil {
		ctx.Logger().Warn("chat: chunk not stored", "error", err)
	} else if err := storeChunk(ctx, t.streamID, t.chunks, body); err != nil {
		ctx.Logger().Warn("chat: chunk not stored", "error", err)
	} else {
		f.Value.(map[string]any)["seq"] = int64(t.chunks)
		t.chunks++
	}
	ctx.Broadcast(f, t.pendingKeys()...)
}

// frame flags f as a continuation's when the turn is one.
func (t *turn) frame(f wire.Frame) wire.Frame {
	if t.continuation {
		f.Value.(map[string]any)["continuation"] = true
	}
	return f
}

func (t *turn) pendingKeys() []string {
	keys := make([]string, 0, len(t.pending))
	for k := range t.pending {
		keys = append(keys, k)
	}
	return keys
}

// end finishes the turn: close the open text and reasoning parts, send
// finish (unless cancelled: reason ""), store the assistant message, mark
// the stream, then send the terminal frame, an error response when errMsg
// is set.
func (t *turn) end(ctx *agenthost.Context, reason, errMsg string) {
	t.ended = true
	t.unregister()
	t.closeParts(ctx)
	if reason != "" {
		t.emit(ctx, map[string]any{"type": "finish", "messageMetadata": map[string]any{"finishReason": uiFinishReason(reason)}})
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
			var except []string
			if !t.continuation {
				except = append(except, t.requester)
			}
			ctx.Broadcast(messagesFrame(all), except...)
		}
	}
	if err := endStream(ctx, t.streamID, status); err != nil {
		ctx.Logger().Warn("chat: end stream", "error", err)
	}
	var err error
	if errMsg != "" {
		err = errors.New(errMsg)
		ctx.Broadcast(t.frame(errorFrame(t.requestID, errMsg)))
	} else if t.cancelled {
		ctx.Broadcast(t.frame(endedFrame(t.requestID, outcomeAborted)))
	} else {
		ctx.Broadcast(t.frame(doneFrame(t.requestID)))
	}
	if t.continuation && !t.attached && t.requester != "" {
		setMissed(t.key, t.requester, missedTurn{t.requestID, t.streamID})
	}
	if t.cfg.OnFinish != nil {
		t.cfg.OnFinish(ctx, t.b.message(), uiFinishReason(reason), err)
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
	ctx.Broadcast(t.frame(endedFrame(t.requestID, outcomeAborted)))
	for _, q := range t.queue {
		ctx.Broadcast(queuedDone(q))
	}
	t.queue = nil
}

// queuedDone is the terminal frame of a waiting request that is dropped.
func queuedDone(q queuedTurn) wire.Frame {
	f := endedFrame(q.req.ID, outcomeAborted)
	if q.continuation {
		f.Value.(map[string]any)["continuation"] = true
	}
	return f
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
		t.cancelled = true
		t.end(ctx, "", "")
		return nil
	}
	for i, q := range t.queue {
		if q.req.ID == id {
			if err := deleteQueued(ctx, q.seq); err != nil {
				ctx.Logger().Warn("chat: unqueue a request", "request", id, "error", err)
			}
			t.queue = append(t.queue[:i:i], t.queue[i+1:]...)
			ctx.Broadcast(queuedDone(q))
			break
		}
	}
	return nil
}
