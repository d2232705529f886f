// Package chat is the chat agent: the AIChatAgent of the Agents SDK
// (@cloudflare/ai-chat) on Outpost's agent host, answering with the
// gateway's inference engine (the local model of --model, or a remote
// OpenAI-compatible server). docs/chat.md is the reference for clients.
//
// # Main flow
//
// A client sends cf_agent_use_chat_request {id, init: {method: "POST",
// body: {messages: UIMessage[], ...}}}. The agent (Agent.OnMessage, on the
// agent's goroutine) stores the messages in cf_ai_chat_agent_messages,
// syncs them to the other connections (cf_agent_chat_messages), records a
// stream as "streaming", sends the start chunk and spawns a host-owned
// goroutine (agenthost.Context.Spawn) that opens the model stream and reads
// it token by token. Each token comes back to the agent's goroutine as an
// event of its own, which stores the chunk (cf_ai_chat_stream_chunks),
// applies it to the assistant message being built and broadcasts it as
// cf_agent_use_chat_response. The model's finish stores the assistant
// message, then the terminal {done: true} frame is broadcast, so a client
// that reads the history after done always finds the reply. Because the
// agent never waits on the model, a cf_agent_chat_request_cancel or
// cf_agent_chat_clear is handled mid-stream. Requests that arrive while a
// reply streams wait in the turn (at most MaxQueuedTurns) and start, in
// order, when it ends (they are stored, and a restart starts them again).
//
// With tools (Config.Tools, and the clientTools of a request) a turn is a
// loop of steps on the model goroutine: a model call, whose tool calls
// stream as they come; the server tools it asked for, run there too; then
// the model again with their results. A call that waits (a client tool,
// or a server tool that needs a person's approval: the pending call is
// stored before the approval is asked) ends the turn; the client's
// cf_agent_tool_result or cf_agent_tool_approval updates the stored
// message (cf_agent_message_updated) and continues the turn: a new
// request whose frames say continuation: true and whose parts are
// appended to the message it continues.
//
// The state of the turn that is streaming lives in a registry keyed by the
// host and the agent's address, not in the Agent value, because the host
// may hibernate the agent between two tokens and build a new value.
// A stream recorded as streaming with no turn in the registry was cut off
// by a gateway restart: OnStart closes it, keeping the partial assistant
// message rebuilt from its stored chunks, and clients that connect in the
// next minutes get its terminal frame.
//
// # Files
//
//   - chat.go: Config, the class and the agent's hooks.
//   - turn.go: one chat turn, from the request to the terminal frame, and
//     the requests that wait for it.
//   - steps.go: a turn's steps: model chunks, tool calls, tool runs.
//   - resume.go: the resume handshake and replays.
//   - message.go: UI messages and their conversion to the model's turns.
//   - chunks.go: applying UI-message-stream chunks to a message.
//   - tools.go: Tool, ClientTool, data parts, the tool frames' decoders.
//   - interact.go: tool results, approvals and continuations.
//   - frames.go: decoding requests, building response frames.
//   - store.go: the SQLite tables (the SDK's names and columns).
//   - guard.go: the row-size guard (compaction of messages over 1.8 MB).
//
// Resume (cf_agent_stream_resuming / _resume_request / _resume_ack), the
// row guard, the prompt cut for the model's context, tools, approvals and
// continuations follow the SDK; docs/chat.md lists what does not yet.
package chat

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/outpost-iot/outpost/accel"
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/wire"
)

// ClassName is the built-in chat agent's name in topics and paths.
const ClassName = "chat"

// Defaults of Config.
const (
	// DefaultMaxTokens bounds a reply when neither the request nor the
	// agent says otherwise.
	DefaultMaxTokens = 512
	// InterruptedNotice is how long after a restart closed a cut-off
	// stream a connecting client is sent that stream's terminal frame.
	InterruptedNotice = 5 * time.Minute
	// StreamRetention is how long finished streams' chunks are kept.
	StreamRetention = 24 * time.Hour
)

// Config configures a chat class. Zero fields take the defaults.
type Config struct {
	// SystemPrompt is sent to the model before the conversation; empty
	// sends none.
	SystemPrompt string
	// Model is the model id to ask; empty asks the first model the
	// inference backend lists.
	Model string
	// MaxTokens bounds each reply, in tokens, unless the request's body
	// has maxTokens (or max_tokens). Default 512.
	MaxTokens int
	// MaxPersistedMessages bounds the stored messages: after each store
	// the oldest beyond it are deleted (this bounds storage, and so the
	// history the model sees). Default 0: no bound.
	MaxPersistedMessages int
	// Temperature is the sampling temperature; nil is the backend's
	// default.
	Temperature *float32
	// Tools are the server-side tools the model may call (docs/chat.md,
	// Tools); clients may add their own in each request.
	Tools []Tool
	// MaxSteps bounds the model calls of one turn (each step is a call,
	// then the server tools it asked for). Default 5.
	MaxSteps int
	// Prompt, when set, builds the model's conversation from the stored
	// history instead of SystemPrompt followed by ModelMessages(history).
	// With tools it runs before each step; the reply being built is the
	// last message of history.
	Prompt func(ctx *agenthost.Context, history []Message) []accel.Message
	// OnFinish, when set, runs on the agent's goroutine after a reply
	// ended and its terminal frame was sent: reply is the assistant message
	// as stored (no parts when nothing streamed), finishReason the model's
	// ("stop", "length"), "" after a cancel, and err the failure, if any.
	OnFinish func(ctx *agenthost.Context, reply Message, finishReason string, err error)
}

// Validate checks the configuration: no negative limit, tool names that
// the model API accepts, each once, each with an Execute.
func (c Config) Validate() error {
	if c.MaxTokens < 0 || c.MaxPersistedMessages < 0 || c.MaxSteps < 0 {
		return errors.New("chat: negative limit")
	}
	seen := map[string]bool{}
	for _, t := range c.Tools {
		switch {
		case !accel.ValidToolName(t.Name):
			return fmt.Errorf("chat: tool name %q: want 1 to 64 of a-z A-Z 0-9 _ -", t.Name)
		case seen[t.Name]:
			return fmt.Errorf("chat: tool %q is declared twice", t.Name)
		case t.Execute == nil:
			return fmt.Errorf("chat: tool %q has no Execute", t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

// DefaultMaxSteps bounds the model calls of one turn.
const DefaultMaxSteps = 5

func (c Config) withDefaults() Config {
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = DefaultMaxSteps
	}
	return c
}

// NewClass is a chat class named name (kebab-case) with cfg. It panics
// on a configuration Validate refuses (a programming error).
func NewClass(name string, cfg Config) agenthost.Class {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	return agenthost.Class{
		Name:       name,
		New:        func(*agenthost.Context) agenthost.Agent { return &Agent{cfg: cfg} },
		Migrations: Migrations,
	}
}

// Class is the built-in chat class: no system prompt, the backend's first
// model, replies of at most 512 tokens.
var Class = NewClass(ClassName, Config{})

// New returns a chat agent with cfg, for a class of one's own that embeds
// it (its Migrations must include this package's Migrations).
func New(cfg Config) *Agent {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &Agent{cfg: cfg.withDefaults()}
}

// Agent is one chat agent. It keeps no state of its own between events:
// the messages are in its database, the streaming turn in the registry.
type Agent struct {
	cfg Config
}

// Interface guards.
var (
	_ agenthost.StartHook   = (*Agent)(nil)
	_ agenthost.ConnectHook = (*Agent)(nil)
	_ agenthost.CloseHook   = (*Agent)(nil)
	_ agenthost.MessageHook = (*Agent)(nil)
	_ agenthost.RequestHook = (*Agent)(nil)
)

// Messages returns the stored conversation, in order.
func (a *Agent) Messages(ctx *agenthost.Context) ([]Message, error) { return loadMessages(ctx) }

// OnStart closes the streams a gateway restart cut off (see the package
// doc), prunes old finished ones, and starts the requests that were
// waiting when the gateway stopped.
func (a *Agent) OnStart(ctx *agenthost.Context) error {
	streams, err := streamsWithStatus(ctx, statusStreaming)
	if err != nil {
		return err
	}
	t := liveTurn(ctx)
	for _, s := range streams {
		if t != nil && t.streamID == s.id {
			continue // still streaming: the agent only hibernated
		}
		if err := a.closeOrphan(ctx, s); err != nil {
			// Not fatal: an agent that cannot start would refuse every frame.
			ctx.Logger().Warn("chat: close a stream cut off by a restart", "request", s.requestID, "error", err)
		}
	}
	if err := pruneStreams(ctx, ctx.Now().Add(-StreamRetention).UnixMilli()); err != nil {
		ctx.Logger().Warn("chat: prune old streams", "error", err)
	}
	if t == nil {
		// Requests that waited when the gateway stopped: the first starts
		// now (its requester's socket is gone: its frames are broadcast).
		queue, err := loadQueued(ctx)
		if err != nil {
			ctx.Logger().Warn("chat: read queued requests", "error", err)
		} else if len(queue) > 0 {
			ctx.Logger().Info("chat: starting requests queued before a restart", "requests", len(queue))
			a.startQueued(ctx, queue)
		}
	}
	return nil
}

// closeOrphan ends a stream that has no producer: the assistant message
// rebuilt from its stored chunks (onto the message the stream extends,
// for a continuation) is kept, and the stream marked errored.
func (a *Agent) closeOrphan(ctx *agenthost.Context, s streamRecord) error {
	chunks, err := streamChunks(ctx, s.id)
	if err != nil {
		return err
	}
	b := newBuilder("")
	if base, ok := streamBase(ctx, s.id); ok {
		b = continueBuilder(base) // a continuation: its parts go after the base's
	}
	for _, c := range chunks {
		b.apply(c)
	}
	b.closeTexts()
	a.failInterruptedCalls(b.msg.Parts)
	var kept error
	if msg := b.message(); msg.ID != "" && len(msg.Parts) > 0 {
		kept = upsertMessages(ctx, []Message{msg}, a.cfg.MaxPersistedMessages)
	}
	if err := endStream(ctx, s.id, statusError); err != nil {
		return err
	}
	ctx.Logger().Info("chat: closed a stream cut off by a restart", "request", s.requestID, "chunks", len(chunks))
	return kept
}

// interruptedCall is the error text of a tool call a restart cut off.
const interruptedCall = "chat: the gateway restarted while this tool call was in progress"

// failInterruptedCalls ends, as output errors, the tool calls of parts
// that a restart left with no one to finish them: calls whose input was
// still streaming, and server tool calls that were to run or running (a
// client tool's call still waits for the client, and a pending approval
// for a person).
func (a *Agent) failInterruptedCalls(parts []map[string]any) {
	server := newToolSet(a.cfg.Tools, nil).server
	for _, p := range parts {
		if !isToolPart(p) {
			continue
		}
		_, isServer := server[toolName(p)]
		switch st := p["state"]; {
		case st == "input-streaming",
			isServer && (st == "input-available" || st == "approval-responded" && approved(p)):
			p["state"], p["errorText"] = "output-error", interruptedCall
		}
	}
}

// OnConnect tells a connecting client about the turn that is streaming
// (cf_agent_stream_resuming: it gets the chunks once it acknowledges) and
// sends the terminal frame of streams a restart cut off recently, so that
// a client still waiting for one stops waiting.
func (a *Agent) OnConnect(ctx *agenthost.Context, c wire.Conn) error {
	if t := liveTurn(ctx); t != nil {
		return t.offerResume(c, "")
	}
	streams, err := streamsWithStatus(ctx, statusError)
	if err != nil {
		return err
	}
	since := ctx.Now().Add(-InterruptedNotice).UnixMilli()
	for _, s := range streams {
		if s.completedAt >= since {
			if err := c.Send(endedFrame(s.requestID, outcomeError)); err != nil {
				return err
			}
		}
	}
	return nil
}

// OnClose forgets a connection that was waiting to resume, and the
// continuation it missed.
func (a *Agent) OnClose(ctx *agenthost.Context, c wire.Conn) {
	if t := liveTurn(ctx); t != nil {
		delete(t.pending, c.Key())
	}
	setMissed(keyOf(ctx), c.Key(), missedTurn{})
}

// OnMessage handles the chat frames. A frame that is not one, or is
// malformed, gets an error back (an outpost_error, or an error response
// when it names a request id) and an error that wraps wire.ErrMalformed.
func (a *Agent) OnMessage(ctx *agenthost.Context, c wire.Conn, m wire.Inbound) error {
	frame, _ := m.Value.(map[string]any)
	typ, _ := frame["type"].(string)
	var err error
	switch typ {
	case TypeUseChatRequest:
		return a.request(ctx, c, frame)
	case TypeChatMessages:
		err = a.syncMessages(ctx, c, frame)
	case TypeChatClear:
		err = a.clear(ctx, c)
	case TypeRequestCancel:
		id, _ := frame["id"].(string)
		err = a.cancel(ctx, id)
	case TypeResumeRequest:
		probe, _ := frame["probeId"].(string)
		err = a.resumeRequest(ctx, c, probe)
	case TypeResumeAck:
		id, _ := frame["id"].(string)
		err = a.resumeAck(ctx, c, id)
	case TypeToolResult:
		err = a.toolResult(ctx, c, frame)
	case TypeToolApproval:
		err = a.toolApproval(ctx, c, frame)
	default:
		err = fmt.Errorf("%w: type %q: %w", ErrBadFrame, typ, errNotChat)
	}
	if err != nil {
		if serr := c.Send(wire.ErrorFrame(wire.ErrorCode(err), err.Error())); serr != nil {
			ctx.Logger().Debug("chat: error frame not sent", "conn", c.ID(), "error", serr)
		}
	}
	return err
}

// syncMessages stores the messages a client sends (upsert, no deletion,
// as the SDK does) and syncs the list to the other connections.
func (a *Agent) syncMessages(ctx *agenthost.Context, c wire.Conn, frame map[string]any) error {
	msgs, err := ParseMessages(frame["messages"])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	return a.persist(ctx, msgs, c.Key())
}

// persist stores msgs (a client's copies of tool parts never move a stored
// call back: mergeKnownToolState) and sends the whole list to every
// connection but those excluded.
func (a *Agent) persist(ctx *agenthost.Context, msgs []Message, exceptKeys ...string) error {
	msgs, err := mergeKnownToolState(ctx, msgs)
	if err != nil {
		return err
	}
	if err := upsertMessages(ctx, msgs, a.cfg.MaxPersistedMessages); err != nil {
		return err
	}
	all, err := loadMessages(ctx)
	if err != nil {
		return err
	}
	ctx.Broadcast(messagesFrame(all), exceptKeys...)
	return nil
}

// clear ends the streaming turn without storing it, deletes the messages
// and the streams, and tells the other connections.
func (a *Agent) clear(ctx *agenthost.Context, c wire.Conn) error {
	if t := liveTurn(ctx); t != nil {
		t.abort(ctx)
	}
	if err := clearAll(ctx); err != nil {
		return err
	}
	live.Lock()
	delete(live.missed, keyOf(ctx))
	live.Unlock()
	ctx.Broadcast(clearFrame(), c.Key())
	return nil
}

// OnRequest answers GET .../get-messages (any path that ends so) with the
// JSON array of the stored messages; anything else is 404.
func (a *Agent) OnRequest(ctx *agenthost.Context, w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/get-messages") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	msgs, err := loadMessages(ctx)
	var body []byte
	if err == nil {
		body, err = wideCodec.Marshal(messageValues(msgs))
	}
	if err != nil {
		ctx.Logger().Warn("chat: get-messages", "error", err)
		http.Error(w, "cannot read the messages", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
