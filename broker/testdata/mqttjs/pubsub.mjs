// Exercises the gateway with mqtt.js, a strict MQTT 5 client: a QoS 1
// publish that carries user properties must complete (mochi issue #474),
// and a subscriber must receive the message with its properties intact.
// usage: node pubsub.mjs URL   (ws://host:port/mqtt or mqtt://host:port)
import mqtt from 'mqtt';

const url = process.argv[2];
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };
setTimeout(() => fail('timed out'), 15000).unref();

const opts = (id) => ({ protocolVersion: 5, clientId: id, reconnectPeriod: 0, connectTimeout: 10000 });
const connect = (id) => new Promise((resolve, reject) => {
  const c = mqtt.connect(url, opts(id));
  c.once('connect', () => resolve(c));
  c.once('error', reject);
});

const sub = await connect('js-sub').catch((e) => fail('sub connect: ' + e.message));
const received = new Promise((resolve) => sub.on('message', (topic, payload, packet) => resolve({ topic, payload, packet })));
await sub.subscribeAsync('js/#', { qos: 1 }).catch((e) => fail('subscribe: ' + e.message));

const pub = await connect('js-pub').catch((e) => fail('pub connect: ' + e.message));
await pub.publishAsync('js/props', Buffer.from([0xa1, 0x61, 0x74, 0x15]), {
  qos: 1,
  properties: { userProperties: { codec: 'cbor' }, contentType: 'application/cbor' },
}).catch((e) => fail('QoS 1 publish with user properties: ' + e.message));

const m = await received;
if (m.topic !== 'js/props') fail('topic ' + m.topic);
if (!m.payload.equals(Buffer.from([0xa1, 0x61, 0x74, 0x15]))) fail('payload ' + m.payload.toString('hex'));
const p = m.packet.properties || {};
if (!p.userProperties || p.userProperties.codec !== 'cbor') fail('user properties lost: ' + JSON.stringify(p));
if (p.contentType !== 'application/cbor') fail('content type lost: ' + JSON.stringify(p));
if (p.messageExpiryInterval !== undefined) fail('broker stamped an expiry: ' + p.messageExpiryInterval);
await pub.endAsync();
await sub.endAsync();
console.log('ok');
