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
if (!types.includes("text-delta")) fail("no text-delta in " + types.join(" "));
let stored = await history();
eq(stored.map((m) => m.role), ["user", "assistant"], "history roles");
eq(stored[1].id, message.id, "stored reply id");
eq(textOf(stored[1]), textOf(message), "stored reply text");

// 2. A cancelled turn: the transport's cancel stops the server turn, which
// keeps the partial reply.
msgs.push(stored[1], user("u2", "Tell me more"));
const stream = await a.transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
  body: { maxTokens: 400, temperature: 0 },
});
let cancelled = false;
await timeout(read(stream, (c) => {
  if (c.type === "text-delta" && !cancelled) { cancelled = true; a.transport.cancelActiveServerTurn(); }
}).catch((e) => { if (e.name !== "AbortError") throw e; }), "cancelled turn");
if (!cancelled) fail("the cancelled turn sent no text");
for (let i = 0; ; i++) {
  stored = await history();
  if (stored.length === 4) break;
  if (i > 100) fail("no partial reply stored after a cancel: " + JSON.stringify(stored));
  await new Promise((r) => setTimeout(r, 50));
}
eq(stored[3].role, "assistant", "cancelled reply role");
if (!textOf(stored[3])) fail("the cancelled reply kept no text");

// 3. A resumed stream: b connects while a's turn streams and resumes
// through the transport's handshake (replayed chunks, then live ones); once
// b has some, a cancels. b's message is then the stored reply.
msgs.push(stored[3], user("u3", "And then?"));
let b = null;
let resumed = null;
let stopped = false;
const aborted = (e) => { if (e.name !== "AbortError") throw e; };
const aTurn = read(await a.transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
  body: { maxTokens: 2000, temperature: 0 },
}), (c) => {
  if (c.type !== "text-delta" || b) return;
  b = connect();
  resumed = timeout(b.agent.ready, "b identity")
    .then(() => b.transport.reconnectToStream({ chatId: name }))
    .then((s) => (s ? read(s, (_, got) => {
      if (got.length >= 5 && !stopped) { stopped = true; a.transport.cancelActiveServerTurn(); }
    }) : fail("no stream to resume")));
}).catch(aborted);
await timeout(aTurn, "a's turn");
if (!resumed) fail("a's turn sent no text");
const bRes = await timeout(resumed, "resumed stream");
if (!stopped) fail("the resumed stream ended before a cancelled it");
for (let i = 0; ; i++) {
  stored = await history();
  if (stored.length === 6) break;
  if (i > 100) fail("no reply stored after the resumed turn: " + JSON.stringify(stored));
  await new Promise((r) => setTimeout(r, 50));
}
eq(bRes.message.id, stored[5].id, "resumed message id");
eq(textOf(bRes.message), textOf(stored[5]), "resumed text");

// 4. A resume request with nothing streaming is answered at once.
eq(await timeout(b.transport.reconnectToStream({ chatId: name }), "idle resume", 3000), null, "idle resume");

a.agent.close();
b.agent.close();
console.log("ok");
process.exit(0);
