// Runs the official chat client of @cloudflare/ai-chat 0.12.2 (the
// WebSocketChatTransport of agents 0.32.0 on an AgentClient, with the AI
// SDK's readUIMessageStream building the messages as useChat does)
// through tool turns against an Outpost gateway whose model is a scripted
// OpenAI-compatible server (cmd/outpost TestChatToolsNPMClient): a server
// tool that needs approval (get_weather, which the test binary's chat class has), approved
// with the frame useAgentChat sends and continued through the transport's
// tool continuation; then a client-side tool, declared in the body as
// useAgentChat declares it, whose result goes back in cf_agent_tool_result.
// Exits non-zero on the first failure.
// Usage: node chat-tools.mjs HOST:PORT
import { MessageType } from "@cloudflare/ai-chat/types";
import { AgentClient } from "agents/client";
import { WebSocketChatTransport } from "agents/chat/transport";
import WebSocket from "ws";
import { eq, fail, historyOf, read as readChunks, textOf, timeout, user } from "./chat-lib.mjs";

const host = process.argv[2];
const name = "npm-tools-" + process.pid;
const history = historyOf(host, name);
const toolPart = (m, type) => m.parts.find((p) => p.type === type);

eq(MessageType.CF_AGENT_TOOL_APPROVAL, "cf_agent_tool_approval", "approval type");
eq(MessageType.CF_AGENT_TOOL_RESULT, "cf_agent_tool_result", "tool result type");
eq(MessageType.CF_AGENT_MESSAGE_UPDATED, "cf_agent_message_updated", "message updated type");

const agent = new AgentClient({ agent: "chat", name, host, WebSocket, maxRetries: 3 });
const transport = new WebSocketChatTransport({ agent });
const updates = [];
// What useAgentChat does with the frames the transport does not handle.
agent.addEventListener("message", (e) => {
  let d;
  try { d = JSON.parse(e.data); } catch { return; }
  if (d.type === MessageType.CF_AGENT_STREAM_RESUMING) transport.handleStreamResuming(d);
  if (d.type === MessageType.CF_AGENT_STREAM_RESUME_NONE) transport.handleStreamResumeNone(d);
  if (d.type === MessageType.CF_AGENT_STREAM_PENDING) transport.handleStreamPending(d);
  if (d.type === MessageType.CF_AGENT_MESSAGE_UPDATED) updates.push(d.message);
});
await timeout(agent.ready, "identity");

// Reads a chunk stream into the message the AI SDK builds (from message,
// for a continuation), and the chunks.
const read = (stream, message) => readChunks(stream, { message });

const turn = (messages, body = {}) => transport.sendMessages({
  chatId: name, messages, trigger: "submit-message", messageId: undefined, abortSignal: undefined, body,
});

// What useAgentChat's tool continuation does: the transport attaches to
// the continuation the server announces (resume request, resuming, ack).
async function continuation(message) {
  transport.expectToolContinuation();
  const s = await timeout(transport.reconnectToStream({ chatId: name }), "continuation stream");
  if (!s) fail("no continuation stream");
  return timeout(read(s, message), "continuation");
}

async function waitUpdate(n) {
  for (let i = 0; updates.length < n; i++) {
    if (i > 200) fail("no cf_agent_message_updated");
    await new Promise((r) => setTimeout(r, 25));
  }
  return updates[n - 1];
}

// 1. A server tool that needs approval.
const msgs = [user("u1", "What is the weather in Oslo?")];
let { chunks, message } = await timeout(read(await turn(msgs)), "approval turn");
let types = chunks.map((c) => c.type);
for (const t of ["start", "start-step", "tool-input-start", "tool-input-available", "tool-approval-request", "finish-step", "finish"]) {
  if (!types.includes(t)) fail(`no ${t} in ${types.join(" ")}`);
}
let part = toolPart(message, "tool-get_weather");
if (!part || part.state !== "approval-requested" || !part.approval?.id) fail("client part " + JSON.stringify(part));
eq(part.input, { city: "Oslo" }, "tool input");
let stored = await history();
eq(stored.map((m) => m.role), ["user", "assistant"], "history roles");
eq(stored[1].id, message.id, "stored reply id");
eq(toolPart(stored[1], "tool-get_weather").state, "approval-requested", "stored part state");
eq(toolPart(stored[1], "tool-get_weather").approval.id, part.approval.id, "stored approval id");

// Approve, as useAgentChat's addToolApprovalResponse does.
agent.send(JSON.stringify({ type: "cf_agent_tool_approval", toolCallId: part.toolCallId, approved: true, autoContinue: true }));
const updated = await waitUpdate(1);
const upPart = toolPart(updated, "tool-get_weather");
eq([upPart.state, upPart.approval.approved, upPart.approval.id], ["approval-responded", true, part.approval.id], "updated part");
let cont = await continuation(updated);
types = cont.chunks.map((c) => c.type);
if (types[0] !== "start" || !types.includes("tool-output-available") || types[types.length - 1] !== "finish") fail("continuation chunks " + types.join(" "));
eq(cont.message.id, message.id, "continuation message id");
part = toolPart(cont.message, "tool-get_weather");
eq([part.state, part.output], ["output-available", { city: "Oslo", temp: 3 }], "tool output");
eq(toolPart(cont.message, "data-weather-progress")?.data, { city: "Oslo", status: "done" }, "data part");
if (!textOf(cont.message).includes('{"city":"Oslo","temp":3}')) fail("continuation text " + textOf(cont.message));
for (let i = 0; ; i++) {
  stored = await history();
  if (textOf(stored[1]) === textOf(cont.message)) break;
  if (i > 100) fail("stored continuation " + JSON.stringify(stored[1]));
  await new Promise((r) => setTimeout(r, 50));
}
eq(stored.length, 2, "one assistant message");
eq(toolPart(stored[1], "tool-get_weather").state, "output-available", "stored output state");

// 2. A client-side tool: declared in the body, run here, its result sent
// as useAgentChat's addToolOutput sends it.
const clientTools = [{ name: "getLocation", description: "Where the user is", parameters: { type: "object", properties: {} } }];
msgs.push(stored[1], user("u2", "Where am I?"));
({ chunks, message } = await timeout(read(await turn(msgs, { clientTools })), "client tool turn"));
part = toolPart(message, "tool-getLocation");
if (!part || part.state !== "input-available") fail("client tool part " + JSON.stringify(message.parts));
agent.send(JSON.stringify({
  type: "cf_agent_tool_result", toolCallId: part.toolCallId, toolName: "getLocation",
  output: { city: "Bergen" }, autoContinue: true, clientTools,
}));
const local = { ...message, parts: message.parts.map((p) => (p === part ? { ...p, state: "output-available", output: { city: "Bergen" } } : p)) };
const upd = await waitUpdate(2);
eq(toolPart(upd, "tool-getLocation").state, "output-available", "updated client tool part");
cont = await continuation(local);
if (!textOf(cont.message).includes('{"city":"Bergen"}')) fail("client tool continuation text " + textOf(cont.message));
for (let i = 0; ; i++) {
  stored = await history();
  if (stored.length === 4 && textOf(stored[3]) === textOf(cont.message)) break;
  if (i > 100) fail("stored client tool reply " + JSON.stringify(stored));
  await new Promise((r) => setTimeout(r, 50));
}
eq(toolPart(stored[3], "tool-getLocation").output, { city: "Bergen" }, "stored client tool output");

agent.close();
console.log("ok");
process.exit(0);
