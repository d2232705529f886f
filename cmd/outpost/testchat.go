//go:build testagents

package main

import (
	"context"
	"errors"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/agenthost/chat"
	"github.com/outpost-iot/outpost/wire"
)

// In binaries built with -tags testagents the chat class has one server
// tool, get_weather, that always needs a person's approval, for
// end-to-end tests of chat tools with the official client (a model only
// calls it when asked about the weather). It is not part of the product.
func init() {
	chatTools = append(chatTools, weatherTool)
	builtinClasses = append(builtinClasses, agenthost.Class{
		Name: "test-sdk",
		New:  func(*agenthost.Context) agenthost.Agent { return testSDK{} },
	})
}

var weatherTool = chat.Tool{
	Name:        "get_weather",
	Description: "The weather in a city",
	Parameters: map[string]any{"type": "object", "required": []any{"city"},
		"properties": map[string]any{"city": map[string]any{"type": "string"}}},
	Execute: func(ctx context.Context, input any) (any, error) {
		city, _ := input.(map[string]any)["city"].(string)
		if err := chat.WriteData(ctx, chat.DataPart{Type: "data-weather-progress", ID: "w", Data: map[string]any{"city": city, "status": "done"}}); err != nil {
			return nil, err
		}
		return map[string]any{"city": city, "temp": 3}, nil
	},
	NeedsApproval: func(any) bool { return true },
}

// testSDK (class test-sdk, also only with -tags testagents) has what the
// agents npm client's test needs beyond the echo agent: a state validator
// that refuses an update, a state the agent sets itself, and streaming
// callables (testdata/agentsjs/client-sdk.mjs).
type testSDK struct{}

var (
	_ agenthost.StateValidator = testSDK{}
	_ agenthost.Callables      = testSDK{}
)

// ValidateStateChange refuses a state whose reject field is true.
func (testSDK) ValidateStateChange(_ *agenthost.Context, next any, _ wire.Conn) error {
	if m, _ := next.(map[string]any); m["reject"] == true {
		return errors.New("test-sdk: reject is set")
	}
	return nil
}

func (testSDK) Callables() map[string]agenthost.Method {
	return map[string]agenthost.Method{
		"state": {Description: "state() is the agent's state", Call: func(ctx *agenthost.Context, _ *agenthost.Call) (any, error) {
			return ctx.State(), nil
		}},
		"setState": {Description: "setState(s) sets the state from the server", Call: func(ctx *agenthost.Context, call *agenthost.Call) (any, error) {
			return nil, ctx.SetState(call.Arg(0))
		}},
		"count": {Description: "count(n) streams 0..n-1, then returns n", Streaming: true, Call: func(_ *agenthost.Context, call *agenthost.Call) (any, error) {
			n, _ := call.Arg(0).(int64)
			for i := range n {
				if err := call.Stream(i); err != nil {
					return nil, err
				}
			}
			return n, nil
		}},
		"countThenFail": {Description: "countThenFail(n) streams 0..n-1, then fails", Streaming: true, Call: func(_ *agenthost.Context, call *agenthost.Call) (any, error) {
			n, _ := call.Arg(0).(int64)
			for i := range n {
				if err := call.Stream(i); err != nil {
					return nil, err
				}
			}
			return nil, errors.New("count failed")
		}},
	}
}
