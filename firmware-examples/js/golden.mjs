// Checks this example's frames against the golden frames in
// codecs/testdata/golden: the frames it sends must be byte for byte the
// golden ones, the frames it receives must decode to what it acts on.
// Exit 0 and "golden ok" when they all agree. Run by
// firmware-examples/js_test.go; by hand: node firmware-examples/js/golden.mjs
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { decodeFrame, encodeAck, encodeAckError, encodeRpc, encodeTelemetry } from './frames.mjs';

const dir = new URL('../../codecs/testdata/golden/', import.meta.url);
const golden = (name) => new Uint8Array(readFileSync(new URL(name, dir)));
const hex = (b) => Buffer.from(b).toString('hex');
let failed = 0;
const fail = (msg) => { failed++; console.error('golden: ' + msg); };

const sent = {
  'twin_ack.cbor': encodeAck(1),
  'twin_ack_error.cbor': encodeAckError(1, 'interval_s out of range'),
  'twin_telemetry.cbor': encodeTelemetry(undefined, { temp: 21.5, hum: 40 }),
  'twin_telemetry_ts.cbor': encodeTelemetry(1764000000000, { temp: 21.5, hum: 40, door: false, fw: '1.0.3' }),
  'twin_history_request.cbor': encodeRpc('h-1', 'history', [1764000000000, null, 'temp']),
};
for (const [name, got] of Object.entries(sent)) {
  const want = golden(name);
  if (hex(got) !== hex(want)) fail(`${name}:\n got ${hex(got)}\nwant ${hex(want)}`);
}

const received = {
  'twin_desired_empty.cbor': { type: 'desired', version: 0, config: {} },
  'twin_desired.cbor': { type: 'desired', version: 1, config: { interval_s: 30, led: true, unit: 'C' } },
  'twin_history_result.cbor': {
    type: 'rpc', id: 'h-1', success: true, done: true,
    result: { more: false, rows: [
      { ts: 1764000000000, values: { temp: 21.5 } },
      { ts: 1764000060000, values: { temp: 21.75 } },
    ] },
  },
};
for (const [name, want] of Object.entries(received)) {
  try {
    const got = decodeFrame(golden(name));
    if (!isDeepStrictEqual({ ...got }, want)) fail(`${name}: decoded ${JSON.stringify(got)}`);
  } catch (err) {
    fail(`${name}: ${err.message}`);
  }
}
// JSON is never a frame.
try {
  decodeFrame(new TextEncoder().encode('{"type":"desired","version":1,"config":{}}'));
  fail('a JSON frame decoded');
} catch { /* refused, as it must be */ }

if (failed) process.exit(1);
console.log('golden ok');
