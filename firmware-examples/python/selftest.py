"""The golden self-test: the frames device.py sends, encoded and compared
byte for byte with the gateway's golden files (codecs/testdata/golden,
written by codecs/golden_test.go), and the golden frames it receives,
decoded. python3 device.py --selftest runs it."""

import os
import random

import device

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL " + what)


def golden(golden_dir, name):
    with open(os.path.join(golden_dir, name + ".cbor"), "rb") as f:
        return f.read()


def expect_bytes(golden_dir, name, frame):
    got = device.encode(frame)
    want = golden(golden_dir, name)
    check(got == want, "encode %s:\n  got  %s\n  want %s" % (name, got.hex(), want.hex()))
    if got == want:
        print("ok   encode %s (%d bytes)" % (name, len(got)))


def check_encoding(golden_dir):
    # keys in no particular order: the encoder sorts them
    expect_bytes(golden_dir, "twin_ack", device.ack_frame(1))
    expect_bytes(golden_dir, "twin_ack_error",
                 device.ack_error_frame(1, "interval_s out of range"))
    expect_bytes(golden_dir, "twin_telemetry",
                 device.telemetry_frame({"temp": 21.5, "hum": 40}))
    expect_bytes(golden_dir, "twin_telemetry_ts", device.telemetry_frame(
        {"temp": 21.5, "hum": 40, "door": False, "fw": "1.0.3"}, 1764000000000))
    expect_bytes(golden_dir, "twin_history_request",
                 device.history_request("h-1", 1764000000000, "temp"))


WIDTHS = [  # value, its deterministic encoding
    (21.5, "f94d60"), (0.0, "f90000"), (-0.0, "f98000"), (-4.0, "f9c400"),
    (65504.0, "f97bff"), (32768.0, "f97800"),  # cbor2's C encoder: fa...
    (100000.0, "fa47c35000"), (5.960464477539063e-8, "f90001"),
    (70.7, "fb4051accccccccccd"), (23, "17"), (24, "1818"),
    (-500, "3901f3"), (4294967296, "1b0000000100000000"),
    ({"bb": 1, "c": 2, "aa": 3}, "a36163026261610362626201"),
]


def check_widths():
    for value, want in WIDTHS:
        got = device.encode(value).hex()
        check(got == want, "encode %r: got %s, want %s" % (value, got, want))
        if got == want:
            print("ok   encode %r as %s" % (value, want))


def decode_golden(golden_dir, name):
    data = golden(golden_dir, name)
    frame = device.decode(data)
    for cut in range(len(data)):  # every shorter prefix is refused
        try:
            device.decode(data[:cut])
        except Exception:
            continue
        check(False, "decode %s cut to %d bytes: accepted" % (name, cut))
        break
    print("ok   decode " + name)
    return frame


def check_decoding(golden_dir):
    f = decode_golden(golden_dir, "twin_desired")
    config, error = device.check_config(f["config"])
    check(f["type"] == "desired" and f["version"] == 1, "twin_desired: type, version")
    check(error is None and config == {"interval_s": 30, "led": True, "unit": "C"},
          "twin_desired: config %r %r" % (config, error))
    f = decode_golden(golden_dir, "twin_desired_empty")
    config, error = device.check_config(f["config"])
    check(f["version"] == 0 and config == device.default_config() and error is None,
          "twin_desired_empty: version 0, defaults")
    f = decode_golden(golden_dir, "twin_history_result")
    check(f["type"] == "rpc" and f["id"] == "h-1" and f["success"] is True and f["done"] is True,
          "twin_history_result: rpc h-1, success, done")
    check(len(f["result"]["rows"]) == 2 and f["result"]["more"] is False,
          "twin_history_result: 2 rows, no more")
    check(device.history_has(f["result"], 1764000000000, 21.5), "twin_history_result: 21.5")
    check(device.history_has(f["result"], 1764000060000, 21.75), "twin_history_result: 21.75")
    check(not device.history_has(f["result"], 1764000060000, 21.5),
          "twin_history_result: 21.5 is not at the second ts")
    f = decode_golden(golden_dir, "rpc_error")
    check(f["success"] is False and f["error"], "rpc_error: error")
    f = decode_golden(golden_dir, "outpost_error")
    check(f["type"] == "outpost_error" and f["code"] == "agent_busy", "outpost_error: code")


MUTATION_SEEDS = [
    "twin_desired", "twin_desired_empty", "twin_history_result", "twin_ack",
    "twin_ack_error", "twin_telemetry", "twin_telemetry_ts",
    "twin_history_request", "rpc_error", "rpc_success", "outpost_error",
]
HEADERS = [0x00, 0x17, 0x18, 0x1b, 0x3b, 0x5f, 0x7f, 0x9f, 0xbf, 0xa0,
           0x80, 0xc1, 0xf8, 0xf9, 0xfa, 0xfb, 0xff]


def mutate(rng, data):
    """Changes 1 to 4 bytes of data, or cuts it."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        at = rng.randrange(len(buf))
        kind = rng.randrange(4)
        if kind == 0:
            buf[at] = rng.randrange(256)
        elif kind == 1:
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 2:
            buf[at] = rng.choice(HEADERS)
        else:
            del buf[at:]
    return bytes(buf)


def check_mutations(golden_dir, rounds):
    """Every golden frame, changed at random, is decoded or refused with
    ValueError or a cbor2 error, and what decodes goes through the
    device's checks (check_config, history_has) without an exception."""
    rng = random.Random(1)  # the same inputs on every run
    seeds = [golden(golden_dir, n) for n in MUTATION_SEEDS]
    decoded = 0
    for i in range(rounds):
        data = mutate(rng, seeds[i % len(seeds)])
        try:
            frame = device.decode(data)
        except (ValueError, LookupError, TypeError, EOFError, OverflowError,
                RecursionError, MemoryError):
            continue  # cbor2's errors derive from ValueError
        decoded += 1
        try:
            device.check_config(frame.get("config"))
            device.history_has(frame.get("result"), 1764000000000, 21.5)
        except Exception as e:
            check(False, "mutation %s: %r" % (data.hex(), e))
            return
    print("ok   %d mutated frames decoded (%d) or refused" % (rounds, decoded))


def run(golden_dir):
    del failures[:]
    check_encoding(golden_dir)
    check_widths()
    check_decoding(golden_dir)
    check_mutations(golden_dir, 20000)
    if failures:
        print("selftest: %d failures" % len(failures))
        return 1
    print("selftest: all frames match " + golden_dir)
    return 0
