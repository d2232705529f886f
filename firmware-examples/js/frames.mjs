// The twin's frames (docs/twin.md) in CBOR with cbor2. The gateway writes
// RFC 8949 core deterministic CBOR (sorted keys, shortest floats: 21.5 is
// the half-precision f9 4d 60); cbor2's `cde` option writes the same, so a
// frame can be compared byte for byte with codecs/testdata/golden.
//
// JavaScript has one number type: a whole number is written as a CBOR
// integer (the twin stores 22 as an integer, 22.5 as a float).
import { decode, encode } from 'cbor2';

const opts = { cde: true };

/** The ack of desired configuration `version`. */
export function encodeAck(version) {
  return encode({ type: 'ack', version }, opts);
}

/** A refused configuration: the twin records `version N: reason`. */
export function encodeAckError(version, reason) {
  return encode({ type: 'ack', version, ok: false, error: reason }, opts);
}

/** Telemetry; `ts` (Unix ms) may be undefined to leave the time to the gateway. */
export function encodeTelemetry(ts, values) {
  const frame = { type: 'telemetry', values };
  if (ts !== undefined) frame.ts = ts;
  return encode(frame, opts);
}

/** A call of one of the twin's callables. */
export function encodeRpc(id, method, args = []) {
  return encode({ type: 'rpc', id, method, args }, opts);
}

/**
 * Decodes a frame the twin sent: a map with a text `type` (`desired`,
 * `rpc`, `outpost_error`). Anything else (JSON included) is an error.
 */
export function decodeFrame(bytes) {
  const f = decode(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  if (f === null || typeof f !== 'object' || Array.isArray(f) || typeof f.type !== 'string') {
    throw new Error('frame is not a CBOR map with a type');
  }
  return f;
}
