"""An Outpost device in Python (paho-mqtt 1.6, cbor2), written to port to
MicroPython: no asyncio, no classes beyond the MQTT client, plain dicts,
small functions, one explicit loop.

It follows the device cycle of docs/twin.md against the built-in twin agent
named DEVICE_NAME, over MQTT 3.1.1 with CBOR frames:

  1. connect (with credentials when given) and subscribe to
     agents/twin/{name}/out, which joins the twin;
  2. receive the desired configuration, apply it, publish an "ack";
  3. publish "telemetry" at QoS 1 (the PUBACK means the twin stored it);
  4. call "history" with an "rpc" frame and check the telemetry came back.

Then it repeats 3-4 every interval_s seconds (from the configuration),
applies and acks every new configuration, and reconnects with backoff when
the gateway goes away. With --once it runs one cycle and exits 0 only if
every step succeeded. --selftest checks the frames against the gateway's
golden files.
"""

import os
import random
import sys
import time

import cbor2
import cbor2.encoder
import paho.mqtt.client as mqtt

STEP_TIMEOUT_S = 10.0  # each step of a cycle
BACKOFF_MIN_S = 0.25
BACKOFF_MAX_S = 8.0
KEEPALIVE_S = 30
LOOP_TIMEOUT_S = 0.1
FIRMWARE_VERSION = "1.0.0"

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_DIR = os.path.join(HERE, "..", "..", "codecs", "testdata", "golden")

# Phases of the state machine.
OFFLINE = "offline"  # not connected; next attempt at next_connect
CONNECTING = "connecting"  # CONNECT sent, waiting for CONNACK
JOINING = "joining"  # subscribed, waiting for the desired config's ack
IDLE = "idle"  # joined; next cycle at next_cycle
TELEMETRY = "telemetry"  # telemetry published, waiting for its PUBACK
HISTORY = "history"  # history rpc published, waiting for the reply


# ---- CBOR ------------------------------------------------------------------


def encode(frame):
    """Encodes a frame as RFC 8949 core deterministic CBOR, as the gateway
    writes it: map keys sorted, shortest integers, floats in the shortest
    exact width (21.5 is the half float f9 4d 60).

    cbor2's pure-Python encoder with canonical=True. Not cbor2.dumps: in
    cbor2 5.4 that is the C extension, which writes the halves from 32768
    to 65504 as singles (65504.0 as fa 47 7f e0 00, not f9 7b ff). Its
    canonical key order is by length, then bytes (RFC 7049); for text keys
    shorter than 24 bytes that is RFC 8949's bytewise order."""
    return cbor2.encoder.dumps(frame, canonical=True)


def decode(data):
    """Decodes a frame: a map with a text "type", else ValueError. cbor2
    reads half, single and double floats alike."""
    frame = cbor2.loads(data)
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValueError("not a map with a text \"type\"")
    return frame


# ---- frames a device sends (docs/twin.md) -----------------------------------


def ack_frame(version):
    return {"type": "ack", "version": version}


def ack_error_frame(version, error):
    return {"type": "ack", "version": version, "ok": False, "error": error}


def telemetry_frame(values, ts=None):
    frame = {"type": "telemetry", "values": values}
    if ts is not None:
        frame["ts"] = ts
    return frame


def history_request(rpc_id, from_ms, key):
    return {"type": "rpc", "id": rpc_id, "method": "history",
            "args": [from_ms, None, key]}


# ---- configuration -----------------------------------------------------------


def default_config():
    return {"interval_s": 30, "led": False, "unit": "C"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_config(desired):
    """Returns (config, error): the configuration this device runs from a
    desired one (the whole configuration, not a patch: keys left out take
    their defaults, unknown keys are ignored), or an error saying why it
    cannot be applied."""
    config = default_config()
    if not isinstance(desired, dict):
        return None, "config is not a map"
    if "interval_s" in desired:
        v = desired["interval_s"]
        if not is_int(v) or v < 1 or v > 3600:
            return None, "interval_s out of range"
        config["interval_s"] = v
    if "led" in desired:
        if not isinstance(desired["led"], bool):
            return None, "led is not a bool"
        config["led"] = desired["led"]
    if "unit" in desired:
        if desired["unit"] not in ("C", "F"):
            return None, "unit is not \"C\" or \"F\""
        config["unit"] = desired["unit"]
    return config, None


def history_has(result, ts, temp):
    """Whether a history result holds a row with this ts and temp."""
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        return False
    for row in result["rows"]:
        if not isinstance(row, dict) or not isinstance(row.get("values"), dict):
            continue
        if row.get("ts") == ts and row["values"].get("temp") == temp:
            return True
    return False


# ---- options -----------------------------------------------------------------

USAGE = """usage: device.py [--once] [--url URL] [--user U] [--password P] [--name NAME]
                 [--interval 200ms|5s] [--timeout SECONDS]
                 [--selftest [--golden DIR]]
environment: DEVICE_MQTT_URL (tcp://127.0.0.1:1883), DEVICE_USER,
             DEVICE_PASSWORD, DEVICE_NAME (device-1); flags win"""

FLAGS = {"--url": "url", "--user": "user", "--password": "password",
         "--name": "name", "--golden": "golden", "--timeout": "timeout",
         "--interval": "interval"}


def env(name, default):
    v = os.environ.get(name, "")
    return v if v else default


def parse_url(url):
    """tcp://host[:port] or mqtt://host[:port] -> (host, port)."""
    for scheme in ("tcp://", "mqtt://"):
        if url.startswith(scheme):
            rest = url[len(scheme):].split("/")[0]
            break
    else:
        raise ValueError("broker URL %s: want tcp://host:port" % url)
    port = 1883
    if rest.startswith("["):  # [v6]:port
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in rest:
        host, _, p = rest.rpartition(":")
        port = int(p)
    else:
        host = rest
    if not host or port < 1 or port > 65535:
        raise ValueError("broker URL %s: bad host or port" % url)
    return host, port


def parse_interval(v):
    """200ms, 5s or 5 (seconds) -> seconds; None when not given."""
    if v is None:
        return None
    raw, scale = v, 1.0
    if v.endswith("ms"):
        v, scale = v[:-2], 0.001
    elif v.endswith("s"):
        v = v[:-1]
    try:
        n = int(v) * scale
    except ValueError:
        n = 0
    if n <= 0 or n > 3600:
        raise ValueError("--interval %s: want 200ms or 5s" % raw)
    return n


def parse_options(argv):
    opts = {"url": env("DEVICE_MQTT_URL", "tcp://127.0.0.1:1883"),
            "user": env("DEVICE_USER", None),
            "password": env("DEVICE_PASSWORD", None),
            "name": env("DEVICE_NAME", "device-1"),
            "golden": GOLDEN_DIR, "timeout": "30", "interval": None,
            "once": False, "selftest": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--once", "--selftest"):
            opts[a[2:]] = True
        elif a in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        elif a in FLAGS and i + 1 < len(argv):
            opts[FLAGS[a]] = argv[i + 1]
            i += 1
        else:
            raise ValueError("%s: unknown flag or missing value" % a)
        i += 1
    name = opts["name"]
    if not name or len(name) > 128 or "/" in name or "+" in name or "#" in name:
        raise ValueError("name %r: want 1 to 128 bytes without / + #" % name)
    opts["host"], opts["port"] = parse_url(opts["url"])
    opts["interval"] = parse_interval(opts["interval"])
    opts["timeout"] = float(opts["timeout"])
    if opts["timeout"] <= 0:
        raise ValueError("--timeout: want a positive number of seconds")
    return opts


# ---- the device's state --------------------------------------------------------


def new_device(opts):
    name = opts["name"]
    return {
        "opts": opts,
        "client": None,
        "topic_in": "agents/twin/%s/in" % name,
        "topic_out": "agents/twin/%s/out" % name,
        "phase": OFFLINE,
        "deadline": 0.0,  # of the current step
        "next_connect": time.monotonic(),
        "next_cycle": 0.0,
        "backoff": BACKOFF_MIN_S,
        "config": default_config(),
        "config_version": None,
        "ack_mid": None,
        "telemetry_mid": None,
        "cycle": 0,
        "last_ts": 0,
        "sent": None,  # (ts, temp) of this cycle's telemetry
        "rpc_id": None,
        "done": False,  # --once: the cycle succeeded
        "failed": False,  # --once: a step failed
        "last_error": "",  # --once: said in the FAILED line
        "stop": False,
    }


def log(msg):
    sys.stderr.write("device: %s\n" % msg)


def enter(dev, phase):
    dev["phase"] = phase
    dev["deadline"] = time.monotonic() + STEP_TIMEOUT_S


def schedule_reconnect(dev):
    """Waits out the backoff (doubling, with jitter so a fleet does not
    reconnect in step after a gateway restart)."""
    dev["phase"] = OFFLINE
    b = dev["backoff"]
    dev["next_connect"] = time.monotonic() + b + random.random() * b / 4
    dev["backoff"] = min(b * 2, BACKOFF_MAX_S)


def connection_lost(dev, why):
    if dev["phase"] == OFFLINE:
        return
    log("connection lost: %s; reconnecting" % why)
    dev["last_error"] = "connection lost: " + why
    dev["phase"] = OFFLINE  # before disconnect(): its callback comes back here
    dev["client"].disconnect()
    schedule_reconnect(dev)


def interval_s(dev):
    """The time between cycles: --interval, else the config's interval_s."""
    return dev["opts"]["interval"] or dev["config"]["interval_s"]


def step_failed(dev, why):
    """--once fails the run; in continuous mode the cycle is skipped and
    the next one comes on time."""
    log("cycle %d failed: %s" % (dev["cycle"], why))
    dev["last_error"] = "cycle: " + why
    if dev["opts"]["once"]:
        dev["failed"] = True
        return
    dev["phase"] = IDLE
    dev["next_cycle"] = time.monotonic() + interval_s(dev)


def publish(dev, frame):
    """Publishes a frame to /in at QoS 1; returns its mid or None."""
    info = dev["client"].publish(dev["topic_in"], encode(frame), qos=1)
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        connection_lost(dev, "publish: " + mqtt.error_string(info.rc))
        return None
    return info.mid


# ---- the cycle ---------------------------------------------------------------


def apply_desired(dev, frame):
    """Applies a desired configuration and acks it: ok when the device can
    run it, else ok=false with the reason (docs/twin.md, ack)."""
    version = frame["version"]
    config, error = check_config(frame.get("config"))
    if error is not None:
        log("config version %d refused: %s" % (version, error))
        dev["ack_mid"] = publish(dev, ack_error_frame(version, error))
        return
    dev["config"] = config
    dev["config_version"] = version
    print("config version %d applied: interval_s=%d led=%s unit=%s" % (
        version, config["interval_s"], config["led"], config["unit"]))
    dev["ack_mid"] = publish(dev, ack_frame(version))


def read_sensors(dev):
    """This cycle's readings: a simulated temperature in quarter degrees
    (a half float on the wire in Celsius, a double in Fahrenheit),
    humidity, the LED setting and the firmware version."""
    c = 21.5 + 0.25 * (dev["cycle"] % 8)
    temp = c * 9 / 5 + 32 if dev["config"]["unit"] == "F" else c
    return {"temp": temp, "hum": 40 + dev["cycle"] % 5,
            "led": dev["config"]["led"], "fw": FIRMWARE_VERSION}


def start_cycle(dev):
    values = read_sensors(dev)
    dev["cycle"] += 1
    ts = int(time.time() * 1000)
    if ts <= dev["last_ts"]:  # one sample per (key, ts): keep them apart
        ts = dev["last_ts"] + 1
    dev["last_ts"] = ts
    dev["sent"] = (ts, values["temp"])
    mid = publish(dev, telemetry_frame(values, ts))
    if mid is not None:
        dev["telemetry_mid"] = mid
        enter(dev, TELEMETRY)


def call_history(dev):
    """Asks for the "temp" samples from the telemetry's ts on."""
    dev["rpc_id"] = "h-%d" % dev["cycle"]
    if publish(dev, history_request(dev["rpc_id"], dev["sent"][0], "temp")) is not None:
        enter(dev, HISTORY)


def history_reply(dev, frame):
    if frame.get("success") is not True:
        step_failed(dev, frame.get("error") or "history call failed")
        return
    ts, temp = dev["sent"]
    if not history_has(frame.get("result"), ts, temp):
        step_failed(dev, "the telemetry is not in the history")
        return
    rows = len(frame["result"]["rows"])
    print("cycle %d ok: temp %s at %d stored and read back (%d rows)" % (
        dev["cycle"], temp, ts, rows))
    if dev["opts"]["once"]:
        dev["done"] = True
        return
    dev["phase"] = IDLE
    dev["next_cycle"] = time.monotonic() + interval_s(dev)


def handle_frame(dev, data):
    try:
        frame = decode(data)
    except Exception as e:  # cbor2 raises several kinds
        log("ignoring a frame of %d bytes: %s" % (len(data), e))
        return
    kind = frame["type"]
    if kind == "desired" and is_int(frame.get("version")) and "config" in frame:
        apply_desired(dev, frame)
    elif kind == "rpc":
        if dev["phase"] == HISTORY and frame.get("id") == dev["rpc_id"] and frame.get("done"):
            history_reply(dev, frame)
    elif kind == "outpost_error":
        log("gateway error %s: %s" % (frame.get("code"), frame.get("error")))
        if dev["phase"] in (TELEMETRY, HISTORY):
            step_failed(dev, str(frame.get("error")))
    else:
        log("ignoring a %s frame" % kind)


# ---- paho callbacks (called from client.loop, this thread) ---------------------


def on_connect(client, dev, flags, rc):
    if rc != 0:
        log("connection refused: %s" % mqtt.connack_string(rc))
        if dev["opts"]["once"]:
            dev["failed"] = True
        connection_lost(dev, "refused")
        dev["last_error"] = "connection refused: " + mqtt.connack_string(rc)
        return
    dev["backoff"] = BACKOFF_MIN_S
    result, _ = client.subscribe(dev["topic_out"], qos=1)
    if result != mqtt.MQTT_ERR_SUCCESS:
        connection_lost(dev, "subscribe: " + mqtt.error_string(result))
        return
    dev["ack_mid"] = None
    enter(dev, JOINING)


def on_disconnect(client, dev, rc):
    if rc != 0:
        connection_lost(dev, "disconnected by the gateway or the network")


def on_publish(client, dev, mid):
    if dev["phase"] == JOINING and mid == dev["ack_mid"]:
        print("joined twin %s (config version %d acked)" % (
            dev["opts"]["name"], dev["config_version"] or 0))
        dev["phase"] = IDLE
        dev["next_cycle"] = time.monotonic()
    elif dev["phase"] == TELEMETRY and mid == dev["telemetry_mid"]:
        call_history(dev)


def on_message(client, dev, msg):
    if msg.payload:
        handle_frame(dev, msg.payload)


# ---- main loop -------------------------------------------------------------------


def try_connect(dev):
    opts = dev["opts"]
    try:
        dev["client"].connect(opts["host"], opts["port"], KEEPALIVE_S)
    except OSError as e:
        log("connect %s:%d: %s; retrying in %g s" % (
            opts["host"], opts["port"], e, dev["backoff"]))
        dev["last_error"] = "connect: %s" % e
        schedule_reconnect(dev)
        return
    enter(dev, CONNECTING)


def tick(dev, now):
    """Moves the state machine on by time: reconnects, cycles, timeouts."""
    phase = dev["phase"]
    if phase == OFFLINE and now >= dev["next_connect"]:
        try_connect(dev)
    elif phase == IDLE and now >= dev["next_cycle"]:
        start_cycle(dev)
    elif phase in (CONNECTING, JOINING) and now >= dev["deadline"]:
        connection_lost(dev, "no CONNACK" if phase == CONNECTING
                        else "no desired configuration from the twin")
    elif phase in (TELEMETRY, HISTORY) and now >= dev["deadline"]:
        step_failed(dev, "no PUBACK for the telemetry" if phase == TELEMETRY
                    else "no reply to the history call")


def run(dev):
    opts = dev["opts"]
    deadline = time.monotonic() + opts["timeout"]
    while not (dev["stop"] or dev["done"] or dev["failed"]):
        now = time.monotonic()
        if opts["once"] and now >= deadline:
            sys.stderr.write("FAILED: no full cycle within %g s (%s)\n" % (
                opts["timeout"], dev["last_error"] or "no error seen"))
            return 1
        tick(dev, now)
        if dev["phase"] == OFFLINE:
            time.sleep(min(LOOP_TIMEOUT_S, max(0.0, dev["next_connect"] - time.monotonic())))
            continue
        rc = dev["client"].loop(timeout=LOOP_TIMEOUT_S)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            connection_lost(dev, mqtt.error_string(rc))
    if dev["phase"] != OFFLINE:
        dev["phase"] = OFFLINE
        dev["client"].disconnect()
        dev["client"].loop(timeout=LOOP_TIMEOUT_S)
    if opts["once"] and not dev["done"]:
        sys.stderr.write("FAILED: %s\n" % (dev["last_error"] or "stopped before a full cycle"))
        return 1
    return 0


def new_client(dev):
    opts = dev["opts"]
    kwargs = {}
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x: keep 1.x callbacks
        kwargs["callback_api_version"] = mqtt.CallbackAPIVersion.VERSION1
    client = mqtt.Client(client_id="outpost-py-" + opts["name"], clean_session=True,
                         userdata=dev, protocol=mqtt.MQTTv311, **kwargs)
    if opts["user"]:
        client.username_pw_set(opts["user"], opts["password"])
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.on_message = on_message
    return client


def on_signal(dev):
    def handler(signum, frame):
        dev["stop"] = True
    return handler


def main(argv):
    try:
        opts = parse_options(argv)
    except ValueError as e:
        log(str(e))
        sys.stderr.write(USAGE + "\n")
        return 2
    if opts["selftest"]:
        import selftest  # beside this file
        return selftest.run(opts["golden"])
    dev = new_device(opts)
    dev["client"] = new_client(dev)
    try:  # CPython; MicroPython has no signal module
        import signal
        signal.signal(signal.SIGTERM, on_signal(dev))
        signal.signal(signal.SIGINT, on_signal(dev))
    except ImportError:
        pass
    return run(dev)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
