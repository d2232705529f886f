// Runs the official agents npm client (AgentClient, on PartySocket) against
// an Outpost gateway's echo agent and exits non-zero on the first failure.
// Usage: node client.mjs HOST:PORT
import { AgentClient } from "agents/client";
import WebSocket from "ws";

const host = process.argv[2];
const name = "npm-" + process.pid;
const timeout = (p, what, ms = 10000) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);
const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
const canon = (v) => JSON.stringify(v, (_, x) =>
  x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x);
const eq = (a, b, what) => {
  if (canon(a) !== canon(b)) fail(`${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
};

function client(extra = {}) {
  const seen = { identity: null, states: [], errors: [] };
  const c = new AgentClient({
    agent: "echo", name, host, WebSocket, maxRetries: 3,
    onIdentity: (n, a) => { seen.identity = { name: n, agent: a }; },
    onStateUpdate: (s, source) => seen.states.push({ s, source }),
    onStateUpdateError: (e) => seen.errors.push(e),
    ...extra,
  });
  c.seen = seen;
  return c;
}

const a = client();
await timeout(a.ready, "identity");
eq(a.seen.identity, { name, agent: "echo" }, "identity");

// Callable RPC, and the SDK's error for a method that does not exist.
eq(await timeout(a.call("echo", [{ x: 1, list: [1, "two"] }]), "echo call"), { x: 1, list: [1, "two"] }, "echo result");
try {
  await timeout(a.call("nope", []), "nope call");
  fail("calling a missing method succeeded");
} catch (e) {
  eq(e.message, "Method nope does not exist", "missing method error");
}

// State sync: b receives a's update, a does not get its own back.
const b = client();
await timeout(b.ready, "b identity");
a.setState({ count: 1 });
await timeout(new Promise((res) => { const t = setInterval(() => { if (b.seen.states.length) { clearInterval(t); res(); } }, 20); }), "b state");
eq(b.seen.states[0], { s: { count: 1 }, source: "server" }, "b state update");
eq(a.seen.states.filter((x) => x.source === "server").length, 0, "a got its own update back");

// protocol=false: no identity, no state, but calls work.
const quiet = client({ query: { protocol: "false" } });
await timeout(new Promise((res) => quiet.addEventListener("open", res, { once: true })), "quiet open");
eq(await timeout(quiet.call("echo", ["q"]), "quiet call"), "q", "quiet echo");
a.setState({ count: 2 });
await timeout(new Promise((res) => { const t = setInterval(() => { if (b.seen.states.length > 1) { clearInterval(t); res(); } }, 20); }), "b second state");
eq(await timeout(quiet.call("echo", ["sync"]), "quiet sync"), "sync", "quiet sync");
eq(quiet.seen.identity, null, "identity on a protocol=false connection");
eq(quiet.seen.states.length, 0, "state frames on a protocol=false connection");

// A binary frame on a JSON connection reaches the agent untouched; the echo
// agent sends the same bytes back as binary.
const bin = await timeout(new Promise((res) => {
  a.addEventListener("message", (ev) => { if (typeof ev.data !== "string") res(ev.data); });
  a.send(new Uint8Array([1, 2, 3, 255]));
}), "binary echo");
const bytes = bin instanceof ArrayBuffer ? new Uint8Array(bin) : typeof Blob !== "undefined" && bin instanceof Blob ? new Uint8Array(await bin.arrayBuffer()) : new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength);
eq([...bytes], [1, 2, 3, 255], "binary echo (" + Object.prototype.toString.call(bin) + ")");

// A reconnect keeps the connection id (_pk) and identifies again.
const id = a.id;
a.reconnect();
await timeout(a.ready, "identity after reconnect");
eq(a.id, id, "_pk across reconnect");
eq(await timeout(a.call("echo", [42]), "call after reconnect"), 42, "echo after reconnect");

for (const c of [a, b, quiet]) c.close();
console.log("ok");
process.exit(0);
