// Drives Outpost's OpenAI-compatible API through tool calls with the
// official openai client: its tool runner (runTools, streamed and not)
// calls the tool the model asks for and sends the result back; its stream
// helper assembles the streamed tool-call deltas. The model behind the
// API is scripted to call get_weather until it gets a tool result.
// Usage: node tools.mjs BASE_URL MODEL
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 60000 });
const check = (cond, what) => { if (!cond) throw new Error("check failed: " + what); };

const calls = [];
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather",
    parameters: { type: "object", properties: { city: { type: "string" } } },
    parse: JSON.parse,
    function: (args) => { calls.push(args); return { temp: 3 }; },
  },
}];
for (const stream of [false, true]) {
  const runner = client.chat.completions.runTools({ model, messages: [{ role: "user", content: "Weather in Oslo?" }], tools, stream });
  const content = await runner.finalContent();
  check(content === 'It is 3 degrees ({"temp":3}).', `stream ${stream}: final content ${content}`);
  const msgs = runner.messages;
  const asked = msgs.find((m) => m.role === "assistant" && m.tool_calls?.length);
  check(asked && asked.tool_calls[0].id === "call_1" && asked.tool_calls[0].function.name === "get_weather", `stream ${stream}: tool call message ${JSON.stringify(asked)}`);
}
check(calls.length === 2 && calls.every((a) => a.city === "Oslo"), "tool called with " + JSON.stringify(calls));

const s = client.chat.completions.stream({
  model, messages: [{ role: "user", content: "Weather in Oslo?" }],
  tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }], tool_choice: "auto",
});
const done = await s.finalChatCompletion();
const choice = done.choices[0];
check(choice.finish_reason === "tool_calls", "finish_reason " + choice.finish_reason);
check(choice.message.tool_calls.length === 1 && choice.message.tool_calls[0].function.arguments === '{"city":"Oslo"}', "assembled " + JSON.stringify(choice.message));
console.log("ok");
