// Helpers shared by the chat client scripts (chat.mjs, chat-tools.mjs).
import { readUIMessageStream } from "ai";

export const timeout = (p, what, ms = 30000) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);
export const fail = (msg) => { console.error("FAIL " + msg); process.exit(1); };
export const eq = (a, b, what) => {
  if (JSON.stringify(a) !== JSON.stringify(b)) fail(`${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
};
export const textOf = (m) => m.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
export const user = (id, text) => ({ id, role: "user", parts: [{ type: "text", text }] });
// The stored history of the chat agent name on host (GET .../get-messages).
export const historyOf = (host, name) => async () => (await fetch(`http://${host}/agents/chat/${name}/get-messages`)).json();

// Reads a chunk stream: the chunks, and the message the AI SDK builds (as
// useChat does; from message, for a continuation). onChunk sees each chunk.
export async function read(stream, { message, onChunk = () => {} } = {}) {
  const [a, b] = stream.tee();
  const chunks = [];
  const collect = (async () => {
    const r = a.getReader();
    for (;;) {
      const { done, value } = await r.read();
      if (done) return;
      chunks.push(value);
      onChunk(value, chunks);
    }
  })();
  let out = message;
  for await (const m of readUIMessageStream({ stream: b, message })) out = m;
  await collect;
  return { chunks, message: out };
}
