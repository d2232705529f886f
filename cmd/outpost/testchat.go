//go:build testagents

package main

import (
	"context"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/agenthost/chat"
)

// In binaries built with -tags testagents the chat class has one server
// tool, get_weather, that always needs a person's approval, for
// end-to-end tests of chat tools with the official client (a model only
// calls it when asked about the weather). It is not part of the product.
func init() {
	for i, c := range builtinClasses {
		if c.Name == chat.ClassName {
			builtinClasses[i] = testChatClass()
		}
	}
}

func testChatClass() agenthost.Class {
	return chat.NewClass(chat.ClassName, chat.Config{Tools: []chat.Tool{{
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
	}}})
}
