package chat_test

import (
	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/agenthost/chat"
	"github.com/outpost-iot/outpost/wire"
)

// A chat class of one's own: a name, a system prompt, shorter replies, a
// bounded history. Register it with the host like any class; clients reach
// it at /agents/support-bot/{name}.
func ExampleNewClass() {
	class := chat.NewClass("support-bot", chat.Config{
		SystemPrompt:         "You are the support assistant of the Acme gateway. Answer in two sentences.",
		MaxTokens:            256,
		MaxPersistedMessages: 200,
	})
	_ = class // host.Register(class)
}

// SupportBot embeds the chat agent and adds a hook of its own; the
// embedded agent's hooks (OnStart, OnConnect, OnMessage, OnRequest,
// OnClose) are promoted, and an override calls through.
type SupportBot struct {
	*chat.Agent
}

func (b *SupportBot) OnConnect(ctx *agenthost.Context, c wire.Conn) error {
	ctx.Logger().Info("support chat opened", "conn", c.ID())
	return b.Agent.OnConnect(ctx, c)
}

// A class whose agent embeds the chat agent: its migrations include the
// chat tables.
func Example_embedding() {
	class := agenthost.Class{
		Name: "support-bot",
		New: func(*agenthost.Context) agenthost.Agent {
			return &SupportBot{Agent: chat.New(chat.Config{MaxTokens: 256})}
		},
		Migrations: append([]string{`CREATE TABLE tickets (id INTEGER PRIMARY KEY, body TEXT)`}, chat.Migrations...),
	}
	_ = class
}
