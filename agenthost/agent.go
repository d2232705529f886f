package agenthost

import (
	"net/http"

	"github.com/outpost-iot/outpost/wire"
)

// Class is an agent class: a kebab-case name (its {agent} in topics and
// paths) and a constructor. New is called each time an instance wakes, with
// the instance's Context, before any event.
type Class struct {
	Name string
	New  func(ctx *Context) Agent
	// Migrations are SQL scripts that build the class's tables, run in
	// order on each agent's database; a database remembers how many ran,
	// so append new ones and never edit old ones.
	Migrations []string
	// Retry holds the class's default retry options for Context.Retry,
	// queue items and schedules; zero fields take the package defaults.
	Retry RetryOptions
}

// Agent is an agent instance. It is any value; what it can do is told by
// the optional one-method interfaces below, found by type assertion. All of
// them run on the agent's own goroutine, one event at a time.
type Agent any

// StartHook runs before any other event of a newly woken instance.
type StartHook interface {
	OnStart(ctx *Context) error
}

// ProtocolHook decides, once per connection, while the agent accepts it,
// whether it gets protocol frames (identity, state sync, MCP server
// lists); the SDK's shouldSendProtocolMessages. def is what the transport
// chose (docs/protocol.md rule 6.2). Without the hook, def stands.
type ProtocolHook interface {
	ShouldSendProtocolMessages(ctx *Context, c wire.Conn, def bool) bool
}

// ReadonlyHook decides, once per connection while the agent accepts it,
// whether it is readonly (the SDK's shouldConnectionBeReadonly). Readonly
// connections cannot update the state; agent code can still call
// c.SetReadonly later.
type ReadonlyHook interface {
	ShouldConnectionBeReadonly(ctx *Context, c wire.Conn) bool
}

// TagsHook gives a connection its tags when the agent accepts it (the
// SDK's getConnectionTags); Context.ConnectionsTagged finds connections by
// tag.
type TagsHook interface {
	ConnectionTags(ctx *Context, c wire.Conn) []string
}

// ConnectHook runs when a connection attaches, after identity and state
// were sent to it.
type ConnectHook interface {
	OnConnect(ctx *Context, c wire.Conn) error
}

// MessageHook gets every inbound frame that is not a state update or a call
// (docs/protocol.md rule 6.5): m.Data as it arrived and, where it decoded,
// m.Value. Its error is the frame's error: an MQTT QoS 1 publish is then
// refused with reason code 0x80.
type MessageHook interface {
	OnMessage(ctx *Context, c wire.Conn, m wire.Inbound) error
}

// CloseHook runs when a connection detaches.
type CloseHook interface {
	OnClose(ctx *Context, c wire.Conn)
}

// RequestHook answers plain HTTP requests to /agents/{agent}/{name}[/...].
// Without it the agent answers 404.
type RequestHook interface {
	OnRequest(ctx *Context, w http.ResponseWriter, r *http.Request)
}

// InitialStater gives the state of an agent that has none yet.
type InitialStater interface {
	InitialState() any
}

// StateValidator can refuse a client's state update; the client then gets
// cf_agent_state_error "State update rejected". source is nil for the
// agent's own SetState, which is not validated.
type StateValidator interface {
	ValidateStateChange(ctx *Context, next any, source wire.Conn) error
}

// StateChangeHook runs after the state changed and was broadcast; source
// is nil when the agent set it itself.
type StateChangeHook interface {
	OnStateChanged(ctx *Context, state any, source wire.Conn)
}

// ErrorHook is told about errors no one else hears of: a failing
// on-connect, an on-state-changed that panicked.
type ErrorHook interface {
	OnError(ctx *Context, err error)
}

// Callables lists the methods clients may call with rpc frames, by name.
// Only these are callable, whatever other methods the agent has.
type Callables interface {
	Callables() map[string]Method
}

// Method is one callable method. Call's result is the call's result; its
// error's message goes to the caller verbatim, as in the SDK. A streaming
// method sends chunks with call.Stream; its return value is always the
// final frame (done: true), so a caller is never left waiting.
type Method struct {
	Description string
	Streaming   bool
	Call        func(ctx *Context, call *Call) (any, error)
}
