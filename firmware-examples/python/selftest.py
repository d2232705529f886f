"""The golden self-test: the frames device.py sends, encoded and compared
byte for byte with the gateway's golden files (codecs/testdata/golden,
written by codecs/golden_test.go), and the golden frames it receives,
decoded. python3 device.py --selftest runs it."""

import os

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
    (21.5, "f94d60"), (0.0, "f90000"), (-4.0, "f9c400"),
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


def run(golden_dir):
    del failures[:]
    check_encoding(golden_dir)
    check_widths()
    check_decoding(golden_dir)
    if failures:
        print("selftest: %d failures" % len(failures))
        return 1
    print("selftest: all frames match " + golden_dir)
    return 0
