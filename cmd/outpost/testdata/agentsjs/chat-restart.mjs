// Runs the official chat client of @cloudflare/ai-chat 0.12.2 (the
// WebSocketChatTransport of agents 0.32.0 on an AgentClient) through a
// gateway restart in the middle of a reply (cmd/outpost
// TestChatNPMClientRestart): once five pieces have streamed it prints
// "kill", and the test kills the gateway (SIGKILL) and starts it again on
// the same port and data directory. The client must then recover without
// waiting: its transport ends the cut reply, the reconnected socket gets
// the reply's terminal frame, a resume probe is answered at once, the
// partial reply is in the history, and a new turn works.
// Usage: node chat-restart.mjs HOST:PORT
import { MessageType } from "@cloudflare/ai-chat/types";
import { AgentClient } from "agents/client";
import { WebSocketChatTransport } from "agents/chat/transport";
import WebSocket from "ws";
import { eq, fail, historyOf, read, textOf, timeout, user } from "./chat-lib.mjs";

const host = process.argv[2];
const name = "npm-restart-" + process.pid;
const history = historyOf(host, name);

const agent = new AgentClient({
  agent: "chat", name, host, WebSocket, maxRetries: 100, minReconnectionDelay: 100, maxReconnectionDelay: 500,
});
const transport = new WebSocketChatTransport({ agent });
const terminal = new Map(); // request id -> its terminal frame
let opens = 0;
agent.addEventListener("open", () => { opens++; });
agent.addEventListener("message", (e) => {
  let d;
  try { d = JSON.parse(e.data); } catch { return; }
  if (d.type === MessageType.CF_AGENT_STREAM_RESUMING) transport.handleStreamResuming(d);
  if (d.type === MessageType.CF_AGENT_STREAM_RESUME_NONE) transport.handleStreamResumeNone(d);
  if (d.type === MessageType.CF_AGENT_USE_CHAT_RESPONSE && d.done) terminal.set(d.id, d);
});
await timeout(agent.ready, "identity");
const until = (cond, what) => timeout(new Promise((res) => {
  const t = setInterval(() => { if (cond()) { clearInterval(t); res(); } }, 20);
}), what);

// A reply that holds after five pieces; the gateway is killed then.
const msgs = [user("u1", "Tell me a long story")];
let streamed = "";
let killed = false;
let requestId = null;
const origSend = agent.send.bind(agent);
agent.send = (data) => {
  try { const f = JSON.parse(data); if (f.type === MessageType.CF_AGENT_USE_CHAT_REQUEST) requestId = f.id; } catch {}
  return origSend(data);
};
const cut = await timeout(read(await transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined, body: {},
}), { onChunk: (c, got) => {
  if (c.type === "text-delta") streamed += c.delta;
  if (got.filter((x) => x.type === "text-delta").length === 5 && !killed) { killed = true; console.log("kill"); }
} }).catch((e) => ({ error: e })), "the cut reply");
if (!killed) fail("the reply ended before the kill: " + JSON.stringify(cut));
if (!requestId) fail("no request id seen");

// The reconnected socket gets the cut reply's terminal frame.
await until(() => opens >= 2, "reconnect");
await until(() => terminal.has(requestId), "terminal frame of the cut reply");
const t = terminal.get(requestId);
eq([t.done, t.outcome], [true, "error"], "terminal frame of the cut reply");

// A resume probe is answered at once: nothing streams.
eq(await timeout(transport.reconnectToStream({ chatId: name }), "resume after the restart", 3000), null, "resume after the restart");

// The partial reply is kept, exactly what streamed.
const stored = await history();
eq(stored.map((m) => m.role), ["user", "assistant"], "history after the restart");
eq(textOf(stored[1]), streamed, "the kept partial reply");

// A new turn works.
msgs.push(stored[1], user("u2", "Hello there"));
const next = await timeout(read(await transport.sendMessages({
  chatId: name, messages: msgs, trigger: "submit-message", messageId: undefined, abortSignal: undefined, body: {},
})), "the turn after the restart");
eq(textOf(next.message), "Hello, how can I help?", "the turn after the restart");

agent.close();
console.log("ok");
process.exit(0);
