// A device for Outpost's device twin (docs/twin.md) in JavaScript: mqtt.js
// over MQTT over WebSocket (the gateway's /mqtt), CBOR with cbor2, never
// JSON. The same code runs in a browser dashboard (bundle it; drop the
// process and argument handling).
//
// Cycle: connect (with credentials when given), join the twin by
// subscribing to agents/twin/{name}/out, apply and acknowledge the desired
// configuration the twin sends, publish telemetry to agents/twin/{name}/in
// at QoS 1, and read it back with an rpc call of the twin's history
// callable (the reply comes on /out, matched by id). --once runs that cycle
// and exits 0 only if every step succeeded; without it, telemetry goes out
// every --interval and, after a lost connection, mqtt.js reconnects with a
// backoff that doubles up to 10 s and the device joins again.
//
// Configuration: flags, or DEVICE_MQTT_URL (default
// ws://127.0.0.1:8080/mqtt), DEVICE_USER, DEVICE_PASSWORD, DEVICE_NAME
// (default device-1).
import mqtt from 'mqtt';
import { parseArgs } from 'node:util';
import { decodeFrame, encodeAck, encodeAckError, encodeRpc, encodeTelemetry } from './frames.mjs';

const STEP_MS = 10_000; // each step of a cycle: connect, a frame, a PUBACK, a reply
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;

const { values: cfg } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.DEVICE_MQTT_URL || 'ws://127.0.0.1:8080/mqtt' },
    user: { type: 'string', default: process.env.DEVICE_USER || '' },
    password: { type: 'string', default: process.env.DEVICE_PASSWORD || '' },
    name: { type: 'string', default: process.env.DEVICE_NAME || 'device-1' },
    once: { type: 'boolean', default: false },
    // 500ms, 5s, or ms as a bare number; 0: the configuration's interval_s
    interval: { type: 'string', default: '0' },
  },
});
const m = /^(\d+)(ms|s)?$/.exec(cfg.interval);
const intervalMs = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
if (!cfg.name || !(intervalMs >= 0)) {
  console.error('js: need a device name and an --interval such as 500ms or 5s (0: the configuration\'s)');
  process.exit(2);
}
const topicIn = `agents/twin/${cfg.name}/in`;
const topicOut = `agents/twin/${cfg.name}/out`;
const log = (msg) => console.log(`js: ${new Date().toISOString().slice(11, 23)} ${msg}`);

// The device's state: the applied configuration and the sensors' random walks.
const state = { version: -1, settings: { interval_s: 30, led: false, unit: 'C' }, calls: 0, temp: 21.5, hum: 40 };

/**
 * The settings this device runs from a desired configuration (the whole
 * configuration, not a patch: keys left out take their defaults, unknown
 * keys are ignored), or the reason it cannot run it.
 */
function checkConfig(desired) {
  const settings = { interval_s: 30, led: false, unit: 'C' };
  if (desired === null || typeof desired !== 'object') return { reason: 'config is not a map' };
  if ('interval_s' in desired) {
    const v = desired.interval_s;
    if (!Number.isInteger(v) || v < 1 || v > 3600) return { reason: 'interval_s out of range' };
    settings.interval_s = v;
  }
  if ('led' in desired) {
    if (typeof desired.led !== 'boolean') return { reason: 'led is not a bool' };
    settings.led = desired.led;
  }
  if ('unit' in desired) {
    if (desired.unit !== 'C' && desired.unit !== 'F') return { reason: 'unit is not "C" or "F"' };
    settings.unit = desired.unit;
  }
  return { settings };
}

/** The time between telemetry frames: --interval, else the configuration's interval_s. */
const periodMs = () => intervalMs || state.settings.interval_s * 1000;

function reading() {
  state.temp = Math.round((state.temp + Math.random() * 0.5 - 0.25) * 100) / 100;
  state.hum = Math.min(100, Math.max(0, state.hum + Math.floor(Math.random() * 3) - 1));
  return { temp: state.temp, hum: state.hum };
}

const client = mqtt.connect(cfg.url, {
  clientId: `js-${cfg.name}`,
  username: cfg.user || undefined,
  password: cfg.password || undefined,
  protocolVersion: 5,
  clean: true, // every connect joins again by subscribing
  connectTimeout: STEP_MS,
  reconnectPeriod: cfg.once ? 0 : BACKOFF_MIN_MS,
  properties: { userProperties: { codec: 'cbor' } }, // the MQTT 5 default, said explicitly
});

// Frames from /out wait here for whoever handles them.
const inbox = [];
let wake = null;
client.on('message', (topic, payload) => {
  inbox.push(payload);
  if (wake) wake();
});

/** Publishes a frame to /in at QoS 1; resolves on the PUBACK (the twin has stored it). */
async function publish(frame) {
  await withTimeout(client.publishAsync(topicIn, Buffer.from(frame), { qos: 1 }), 'PUBACK');
}

/**
 * Applies a desired configuration and acks it, or keeps the settings it
 * has and acks with ok=false and the reason (the twin's ack_error).
 */
async function apply(f) {
  const { settings, reason } = checkConfig(f.config);
  if (reason) {
    log(`desired version ${f.version} refused: ${reason}`);
    await publish(encodeAckError(f.version, reason));
  } else {
    state.version = f.version;
    state.settings = settings;
    log(`desired version ${f.version}: ${JSON.stringify(settings)}`);
    await publish(encodeAck(f.version));
  }
  log(`acked version ${f.version}`);
}

/** Handles one frame; a desired configuration is applied and acked here. */
async function handle(payload) {
  const f = decodeFrame(payload);
  if (f.type === 'desired') await apply(f);
  else if (f.type === 'outpost_error') throw new Error(`gateway error ${f.code}: ${f.error}`);
  else if (f.type === 'rpc' && f.success !== true) throw new Error(`rpc ${f.id} failed: ${f.error}`);
  return f;
}

/** Handles frames until one matches want, within STEP_MS. */
async function awaitFrame(what, want) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    while (inbox.length > 0) {
      const f = await handle(inbox.shift());
      if (want(f)) return f;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ${what} within ${STEP_MS} ms`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, left);
      wake = () => { clearTimeout(timer); wake = null; resolve(); };
    });
  }
}

/** Sends an rpc call; its reply comes on /out with the same id. */
async function call(method, args) {
  const id = `h-${++state.calls}`;
  await publish(encodeRpc(id, method, args));
  return id;
}

async function join() {
  const granted = await withTimeout(client.subscribeAsync(topicOut, { qos: 1 }), 'SUBACK');
  if (granted.some((g) => g.qos >= 0x80)) throw new Error(`join ${topicOut}: subscription refused`);
  log(`joined ${topicOut}`);
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${STEP_MS} ms`)), STEP_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function once() {
  await withTimeout(new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  }), 'CONNACK');
  log(`connected to ${cfg.url}`);
  await join();
  // 1. The twin sends the desired configuration on join; apply and ack it.
  await awaitFrame('desired configuration', (f) => f.type === 'desired');
  // 2. Telemetry, with the device's clock.
  const ts = Date.now();
  const values = reading();
  await publish(encodeTelemetry(ts, values));
  log(`telemetry ${JSON.stringify(values)}`);
  // 3. Read it back: history(from_ms, to_ms, key).
  const id = await call('history', [ts, ts, 'temp']);
  const reply = await awaitFrame('history reply', (f) => f.type === 'rpc' && f.id === id);
  const rows = reply.result?.rows ?? [];
  if (rows.length !== 1 || Number(rows[0].ts) !== ts || rows[0].values?.temp !== values.temp) {
    throw new Error(`history read back ${JSON.stringify(rows)}, want temp ${values.temp} at ${ts}`);
  }
  log(`history: temp ${values.temp} at ${ts} stored`);
  log(`cycle ok: acked version ${state.version}, telemetry stored and read back`);
}

function continuous() {
  let backoff = BACKOFF_MIN_MS;
  client.on('connect', () => {
    log(`connected to ${cfg.url}`);
    backoff = BACKOFF_MIN_MS;
    client.options.reconnectPeriod = backoff;
    join().catch((err) => log(err.message));
  });
  client.on('close', () => {
    // mqtt.js reconnects after options.reconnectPeriod: double it each time.
    client.options.reconnectPeriod = backoff;
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  });
  client.on('offline', () => log('connection lost; reconnecting'));
  client.on('error', (err) => log(`connect to ${cfg.url}: ${err.message}`));
  // Frames are handled one at a time, in arrival order.
  let busy = Promise.resolve();
  client.on('message', () => {
    busy = busy.then(async () => {
      while (inbox.length > 0) {
        try {
          const f = await handle(inbox.shift());
          if (f.type === 'rpc') log(`history ${f.id}: ${f.result?.rows?.length ?? 0} rows`);
        } catch (err) {
          log(err.message);
        }
      }
    });
  });
  let sent = 0;
  const tick = async () => {
    if (client.connected) {
      try {
        const values = reading();
        await publish(encodeTelemetry(Date.now(), values));
        log(`telemetry ${JSON.stringify(values)}`);
        if (++sent % 10 === 0) await call('history', [null, null, 'temp']);
      } catch (err) {
        log(`telemetry: ${err.message}`);
      }
    }
    setTimeout(tick, periodMs()); // a new interval_s takes effect from the next frame
  };
  setTimeout(tick, periodMs());
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log('stopping');
    client.end(false, () => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}

if (cfg.once) {
  try {
    await once();
    await client.endAsync();
    process.exit(0);
  } catch (err) {
    log(`FAILED: ${err.message}`);
    client.end(true);
    process.exit(1);
  }
} else {
  continuous();
}
