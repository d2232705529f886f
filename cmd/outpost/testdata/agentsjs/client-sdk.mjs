// Runs the official agents npm client (AgentClient) against the test-sdk
// agent of a gateway built with -tags testagents (cmd/outpost/testchat.go):
// state sync in both directions, a rejected update, streaming RPC (chunks
// then the result, and an error after chunks). Exits non-zero on the first
// failure. Usage: node client-sdk.mjs HOST:PORT
import { AgentClient } from "agents/client";
import WebSocket from "ws";

const host = process.argv[2];
const name = "npm-sdk-" + process.pid;
const timeout = (p, what, ms = 10000) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const eq = (a, b, what) => {
  if (JSON.stringify(a) !== JSON.stringify(b)) fail(`${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
};
const until = (cond, what) => timeout(new Promise((res) => {
  const t = setInterval(() => { if (cond()) { clearInterval(t); res(); } }, 10);
}), what);

function client() {
  const seen = { states: [], errors: [] };
  const c = new AgentClient({
    agent: "test-sdk", name, host, WebSocket, maxRetries: 3,
    onStateUpdate: (s, source) => seen.states.push({ s, source }),
    onStateUpdateError: (e) => seen.errors.push(e),
  });
  c.seen = seen;
  return c;
}

const a = client();
const b = client();
await timeout(Promise.all([a.ready, b.ready]), "identity");

// Client to server: a's update is stored (the agent reads it back) and
// reaches b.
a.setState({ n: 1 });
await until(() => b.seen.states.some((x) => x.s.n === 1), "b sees a's state");
eq(await timeout(a.call("state"), "state()"), { n: 1 }, "stored state");

// Server to clients: the agent's own update reaches both, as "server".
await timeout(b.call("setState", [{ n: 2 }]), "setState()");
await until(() => a.seen.states.some((x) => x.s.n === 2) && b.seen.states.some((x) => x.s.n === 2), "server state");
eq(a.seen.states.find((x) => x.s.n === 2).source, "server", "source of the agent's update");

// A rejected update: the sender gets the SDK's error, the state is
// unchanged, nobody else hears of it.
const bBefore = b.seen.states.length;
a.setState({ n: 3, reject: true });
await until(() => a.seen.errors.length > 0, "state error");
eq(a.seen.errors, ["State update rejected"], "state error");
eq(await timeout(a.call("state"), "state() after rejection"), { n: 2 }, "state after a rejected update");
eq(b.seen.states.length, bBefore, "b's state frames after a rejected update");

// Streaming RPC: chunks in order, then the result.
const chunks = [];
let doneWith;
const result = await timeout(a.call("count", [4], { stream: {
  onChunk: (c) => chunks.push(c), onDone: (r) => { doneWith = r; }, onError: (e) => fail("count error " + e),
} }), "count()");
eq(chunks, [0, 1, 2, 3], "streamed chunks");
eq([result, doneWith], [4, 4], "streamed result");

// A stream that fails after chunks: the chunks, then the error.
const partial = [];
let streamErr;
try {
  await timeout(a.call("countThenFail", [2], { stream: { onChunk: (c) => partial.push(c), onError: (e) => { streamErr = e; } } }), "countThenFail()");
  fail("countThenFail resolved");
} catch (e) {
  eq(e.message, "count failed", "stream error");
}
eq(partial, [0, 1], "chunks before the error");
eq(streamErr, "count failed", "onError");

a.close();
b.close();
console.log("ok");
process.exit(0);
