package chat_test

import (
	"context"

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

// A chat class with server-side tools: the model may call them; the
// agent runs them and calls the model again with their results.
// open_valve waits for a person's cf_agent_tool_approval (stored before it
// is asked, so it survives a restart).
func ExampleTool() {
	readSensor := chat.Tool{
		Name:        "read_sensor",
		Description: "The latest reading of a sensor",
		Parameters: map[string]any{"type": "object", "required": []any{"sensor"},
			"properties": map[string]any{"sensor": map[string]any{"type": "string"}}},
		Execute: func(ctx context.Context, input any) (any, error) {
			sensor, _ := input.(map[string]any)["sensor"].(string)
			// A progress display for the client, replaced in place.
			_ = chat.WriteData(ctx, chat.DataPart{Type: "data-status", ID: "read", Data: "reading " + sensor})
			return map[string]any{"sensor": sensor, "celsius": 21.5}, nil
		},
	}
	openValve := chat.Tool{
		Name:          "open_valve",
		Description:   "Opens the irrigation valve",
		Execute:       func(ctx context.Context, input any) (any, error) { return "opened", nil },
		NeedsApproval: func(any) bool { return true },
	}
	class := chat.NewClass("greenhouse", chat.Config{Tools: []chat.Tool{readSensor, openValve}, MaxSteps: 4})
	_ = class // host.Register(class)
}
