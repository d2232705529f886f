// Runs the official chat client of @cloudflare/ai-chat 0.12.2 (its
// WebSocketChatTransport, from agents 0.32.0, on an AgentClient) against an
// Outpost gateway's chat agent, and the AI SDK's own readUIMessageStream to
// build the reply as useChat does. Exits non-zero on the first failure.
// Usage: node chat.mjs HOST:PORT
import { MessageType } from "@cloudflare/ai-chat/types";
import { AgentClient } from "agents/client";
import { WebSocketChatTransport } from "agents/chat/transport";
import WebSocket from "ws";
import { eq, fail, historyOf, read as readChunks, textOf, timeout, user } from "./chat-lib.mjs";

const host = process.argv[2];
const name = "npm-chat-" + process.pid;
const history = historyOf(host, name);

// The frame types Outpost implements are the package's.
eq(MessageType.CF_AGENT_USE_CHAT_REQUEST, "cf_agent_use_chat_request", "request type");
eq(MessageType.CF_AGENT_USE_CHAT_RESPONSE, "cf_agent_use_chat_response", "response type");

function connect() {
  const agent = new AgentClient({ agent: "chat", name, host, WebSocket, maxRetries: 3 });
  const transport = new WebSocketChatTransport({ agent });
  // What useAgentChat does: hand the resume frames to the transport.
  agent.addEventListener("message", (e) => {
    let d;
    try { d = JSON.parse(e.data); } catch { return; }
    if (d.type === MessageType.CF_AGENT_STREAM_RESUMING) transport.handleStreamResuming(d);
    if (d.type === MessageType.CF_AGENT_STREAM_RESUME_NONE) transport.handleStreamResumeNone(d);
  });
  return { agent, transport };
}

// Reads a chunk stream: the chunks, and the message the AI SDK builds.
const read = (stream, onChunk) => readChunks(stream, { onChunk });

const a = connect();
await timeout(a.agent.ready, "identity");

// 1. A turn: start, text, finish; the stored reply is the one useChat built.
const msgs = [user("u1", "Hello there")];
let { chunks, message } = await timeout(read(await a.transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
  body: { maxTokens: 8, temperature: 0 },
})), "turn");
const types = chunks.map((c) => c.type);
eq(types[0], "start", "first chunk");
eq(types[types.length - 1], "finish", "last chunk");
eq(textOf(message), "Hello, how can I help?", "reply text");
let stored = await history();
eq(stored.map((m) => m.role), ["user", "assistant"], "history roles");
eq(stored[1].id, message.id, "stored reply id");
eq(textOf(stored[1]), textOf(message), "stored reply text");

// 2. A cancelled turn: the model sends two pieces, then holds the reply
// until the turn is cancelled. The transport's cancel stops the server
// turn, which keeps exactly the partial reply that streamed.
msgs.push(stored[1], user("u2", "Tell me more"));
const stream = await a.transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
  body: { temperature: 0 },
});
let streamed = "";
let cancelled = false;
await timeout(read(stream, (c) => {
  if (c.type !== "text-delta") return;
  streamed += c.delta;
  if (streamed === "Once upo" && !cancelled) { cancelled = true; a.transport.cancelActiveServerTurn(); }
}).catch((e) => { if (e.name !== "AbortError") throw e; }), "cancelled turn");
if (!cancelled) fail("the cancelled turn streamed " + JSON.stringify(streamed));
for (let i = 0; ; i++) {
  stored = await history();
  if (stored.length === 4) break;
  if (i > 100) fail("no partial reply stored after a cancel: " + JSON.stringify(stored));
  await new Promise((r) => setTimeout(r, 50));
}
eq(stored[3].role, "assistant", "cancelled reply role");
eq(textOf(stored[3]), "Once upo", "the cancelled reply kept");

// 3. A resumed stream: the model sends three pieces, then holds the reply.
// b connects while it holds and resumes through the transport's handshake;
// once b has the replayed chunks it prints "release" and the test lets the
// model go on: the rest reaches b live. b builds the whole reply, each
// piece once, and it is the stored reply.
const want = "The keeper lit the lamp every night.";
msgs.push(stored[3], user("u3", "And then?"));
let b = null;
let resumed = null;
let released = false;
const aTurn = read(await a.transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
  body: { temperature: 0 },
}), (c) => {
  if (c.type !== "text-delta" || b) return;
  b = connect();
  resumed = timeout(b.agent.ready, "b identity")
    .then(() => b.transport.reconnectToStream({ chatId: name }))
    .then((s) => (s ? read(s, (c, got) => {
      if (!released && got.filter((x) => x.type === "text-delta").map((x) => x.delta).join("") === want.slice(0, 12)) {
        released = true;
        console.log("release");
      }
    }) : fail("no stream to resume")));
});
const aRes = await timeout(aTurn, "a's turn");
if (!resumed) fail("a's turn sent no text");
const bRes = await timeout(resumed, "resumed stream");
if (!released) fail("the resumed stream never had the three replayed pieces");
if (!bRes.chunks.some((c) => c.type === "finish")) fail("the resumed stream has no finish: " + JSON.stringify(bRes.chunks));
stored = await history();
eq(stored.length, 6, "history after the resumed turn");
eq(textOf(aRes.message), want, "a's text");
eq(textOf(bRes.message), want, "resumed text");
eq(bRes.message.id, stored[5].id, "resumed message id");
eq(textOf(stored[5]), want, "stored text");

// 4. A resume request with nothing streaming is answered at once.
eq(await timeout(b.transport.reconnectToStream({ chatId: name }), "idle resume", 3000), null, "idle resume");

a.agent.close();
b.agent.close();
console.log("ok");
process.exit(0);
