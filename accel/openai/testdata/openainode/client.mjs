// Drives Outpost's OpenAI-compatible API with the official openai client.
// Usage: node client.mjs BASE_URL MODEL [API_KEY]
import OpenAI from "openai";

const [baseURL, model, apiKey = "unused"] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

async function expectError(fn, status, code, param) {
  try {
    await fn();
  } catch (err) {
    check(err instanceof OpenAI.APIError, `APIError, got ${err}`);
    check(err.status === status, `status ${status}, got ${err.status}`);
    check(err.code === code, `code ${code}, got ${err.code}`);
    if (param) check(err.param === param, `param ${param}, got ${err.param}`);
    check(typeof err.message === "string" && err.message.length > 0, "message");
    return;
  }
  throw new Error(`expected a ${status} ${code} error`);
}

const out = {};

const models = await client.models.list();
check(models.data.some((m) => m.id === model && m.object === "model"), "model listed");
check((await client.models.retrieve(model)).id === model, "model retrieved");
await expectError(() => client.models.retrieve("no-such-model"), 404, "model_not_found");

const chat = await client.chat.completions.create({
  model,
  messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello" }],
  max_tokens: 12,
  temperature: 0,
});
check(chat.object === "chat.completion", "chat object");
check(chat.choices[0].message.role === "assistant", "role");
check(typeof chat.choices[0].message.content === "string", "content");
check(["stop", "length"].includes(chat.choices[0].finish_reason), "finish_reason");
check(chat.usage.completion_tokens > 0 && chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens, "usage");
out.chat = chat.choices[0].message.content;

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "hello" }],
  max_tokens: 12,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "", finish = null, usage = null;
for await (const chunk of stream) {
  check(chunk.object === "chat.completion.chunk", "chunk object");
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.delta?.content ?? "";
    if (c.finish_reason) finish = c.finish_reason;
  }
}
check(finish !== null, "stream finish_reason");
check(usage && usage.completion_tokens > 0, "stream usage");
out.chatStream = text;

const cmpl = await client.completions.create({ model, prompt: "the quick brown fox", max_tokens: 10, temperature: 0 });
check(cmpl.object === "text_completion" && typeof cmpl.choices[0].text === "string", "completion");
check(cmpl.usage.completion_tokens > 0, "completion usage");
out.completion = cmpl.choices[0].text;

const cstream = await client.completions.create({ model, prompt: "the quick brown fox", max_tokens: 10, temperature: 0, stream: true });
let ctext = "";
for await (const chunk of cstream) ctext += chunk.choices[0]?.text ?? "";
check(ctext === out.completion, `streamed completion ${JSON.stringify(ctext)} = ${JSON.stringify(out.completion)}`);

await expectError(() => client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }), 404, "model_not_found");
await expectError(() => client.completions.create({ model, prompt: "word ".repeat(5000) }), 400, "context_length_exceeded");
await expectError(() => client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], temperature: 5 }), 400, "invalid_value", "temperature");

// The engine keeps serving after the errors.
const again = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hello" }], max_tokens: 4 });
check(again.choices[0].finish_reason, "served after errors");

console.log(JSON.stringify(out));
