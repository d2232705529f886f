/*
 * selftest.c: the device's frames against the gateway's golden files
 * (codecs/testdata/golden, written by codecs/golden_test.go). A change to
 * a frame on either side fails here.
 */
#include "selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

#define GOLDEN_MAX 4096

static int failures;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "FAIL %s\n", what);
		failures++;
	}
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s ", label);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", p[i]);
	fprintf(stderr, "\n");
}

/* load reads dir/name.cbor into buf; returns its length or 0. */
static size_t load(const char *dir, const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/%s.cbor", dir, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		failures++;
		return 0;
	}
	n = fread(buf, 1, cap, f);
	if (n == cap || ferror(f)) {
		fprintf(stderr, "FAIL %s: unreadable or over %zu bytes\n", path, cap);
		failures++;
		n = 0;
	}
	fclose(f);
	return n;
}

static void expect_bytes(const char *dir, const char *name, const uint8_t *got,
			 size_t n)
{
	static uint8_t want[GOLDEN_MAX];
	size_t wn = load(dir, name, want, sizeof want);

	if (wn == 0)
		return;
	if (n == wn && memcmp(got, want, n) == 0) {
		printf("ok   encode %s (%zu bytes)\n", name, n);
		return;
	}
	fprintf(stderr, "FAIL encode %s differs from the golden file\n", name);
	print_hex("got ", got, n);
	print_hex("want", want, wn);
	failures++;
}

static void check_encoding(const char *dir)
{
	static uint8_t buf[512];
	struct enc e;
	/* keys in no particular order: the encoder sorts them */
	const struct reading short_values[] = {
		{"temp", {.kind = VAL_FLOAT, .f = 21.5}},
		{"hum", {.kind = VAL_INT, .i = 40}},
	};
	const struct reading all_values[] = {
		{"temp", {.kind = VAL_FLOAT, .f = 21.5}},
		{"hum", {.kind = VAL_INT, .i = 40}},
		{"door", {.kind = VAL_BOOL, .b = false}},
		{"fw", {.kind = VAL_TEXT, .s = "1.0.3"}},
	};

	enc_init(&e, buf, sizeof buf);
	expect_bytes(dir, "twin_ack", buf, encode_ack(&e, 1));
	expect_bytes(dir, "twin_ack_error", buf,
		     encode_ack_error(&e, 1, "interval_s out of range"));
	expect_bytes(dir, "twin_telemetry", buf,
		     encode_telemetry(&e, false, 0, short_values, 2));
	expect_bytes(dir, "twin_telemetry_ts", buf,
		     encode_telemetry(&e, true, 1764000000000ULL, all_values, 4));
	expect_bytes(dir, "twin_history_request", buf,
		     encode_history_request(&e, "h-1", 1764000000000ULL, "temp"));
}

/* value_bytes encodes {"type": "telemetry", "values": {"v": x}} and
 * returns where the value starts. */
static const uint8_t *value_bytes(struct enc *e, struct value v, size_t *n)
{
	const struct reading r[] = {{"v", v}};
	size_t len = encode_telemetry(e, false, 0, r, 1);
	/* a2 64"type" 69"telemetry" 66"values" a1 61"v": 1+5+10+7+1+2 bytes */
	size_t at = 26;

	*n = len > at ? len - at : 0;
	return e->buf + at;
}

static void expect_value(struct value v, const char *hex, const char *what)
{
	static uint8_t buf[128];
	struct enc e;
	char got[64] = "";
	size_t n;
	const uint8_t *p;

	enc_init(&e, buf, sizeof buf);
	p = value_bytes(&e, v, &n);
	for (size_t i = 0; i < n && 2 * i + 2 < sizeof got; i++)
		snprintf(got + 2 * i, 3, "%02x", p[i]);
	if (strcmp(got, hex) != 0) {
		fprintf(stderr, "FAIL encode %s: got %s, want %s\n", what, got, hex);
		failures++;
		return;
	}
	printf("ok   encode %s as %s\n", what, hex);
}

/* check_widths: shortest exact float widths, shortest integers. */
static void check_widths(void)
{
	expect_value((struct value){.kind = VAL_FLOAT, .f = 21.5}, "f94d60", "21.5 (half)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 0.0}, "f90000", "0.0 (half)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = -4.0}, "f9c400", "-4.0 (half)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = -0.0}, "f98000", "-0.0 (half)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 65504.0}, "f97bff", "65504.0 (half max)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 32768.0}, "f97800", "32768.0 (half)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 100000.0}, "fa47c35000", "100000.0 (single)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 5.960464477539063e-8}, "f90001", "2^-24 (half subnormal)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 70.7}, "fb4051accccccccccd", "70.7 (double)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = 1e300}, "fb7e37e43c8800759c", "1e300 (double)");
	expect_value((struct value){.kind = VAL_FLOAT, .f = -INFINITY}, "f9fc00", "-Infinity (half)");
	expect_value((struct value){.kind = VAL_INT, .i = 23}, "17", "23");
	expect_value((struct value){.kind = VAL_INT, .i = 24}, "1818", "24");
	expect_value((struct value){.kind = VAL_INT, .i = -500}, "3901f3", "-500");
	expect_value((struct value){.kind = VAL_INT, .i = 4294967296LL}, "1b0000000100000000", "2^32");
}

static struct frame frame;

static int decode_golden(const char *dir, const char *name,
			 const struct history_probe *probe)
{
	static uint8_t buf[GOLDEN_MAX];
	char err[96];
	size_t n = load(dir, name, buf, sizeof buf);

	if (n == 0)
		return -1;
	if (decode_frame(buf, n, probe, &frame, err, sizeof err) != 0) {
		fprintf(stderr, "FAIL decode %s: %s\n", name, err);
		failures++;
		return -1;
	}
	/* every shorter prefix must be refused, never misread */
	for (size_t cut = 0; cut < n; cut++) {
		struct frame f;

		if (decode_frame(buf, cut, probe, &f, err, sizeof err) == 0) {
			fprintf(stderr, "FAIL decode %s cut to %zu bytes: accepted\n", name, cut);
			failures++;
			break;
		}
	}
	printf("ok   decode %s\n", name);
	return 0;
}

static void check_decoding(const char *dir)
{
	struct history_probe first = {.want_ts = 1764000000000ULL, .want_temp = 21.5};
	struct history_probe second = {.want_ts = 1764000060000ULL, .want_temp = 21.75};
	struct history_probe wrong = {.want_ts = 1764000060000ULL, .want_temp = 21.5};

	if (decode_golden(dir, "twin_desired", NULL) == 0) {
		check(strcmp(frame.type, "desired") == 0, "twin_desired: type");
		check(frame.has_version && frame.version == 1, "twin_desired: version 1");
		check(frame.has_config && frame.config_error[0] == '\0', "twin_desired: config applies");
		check(frame.config.interval_s == 30, "twin_desired: interval_s 30");
		check(frame.config.led, "twin_desired: led true");
		check(frame.config.unit == 'C', "twin_desired: unit C");
	}
	if (decode_golden(dir, "twin_desired_empty", NULL) == 0) {
		check(strcmp(frame.type, "desired") == 0, "twin_desired_empty: type");
		check(frame.has_version && frame.version == 0, "twin_desired_empty: version 0");
		check(frame.has_config && frame.config_error[0] == '\0', "twin_desired_empty: config applies");
	}
	if (decode_golden(dir, "twin_history_result", &first) == 0) {
		check(strcmp(frame.type, "rpc") == 0, "twin_history_result: type");
		check(strcmp(frame.id, "h-1") == 0, "twin_history_result: id");
		check(frame.has_success && frame.success && frame.done, "twin_history_result: success, done");
		check(frame.history.rows == 2 && !frame.history.more, "twin_history_result: 2 rows, no more");
		check(frame.history.found, "twin_history_result: 21.5 at its ts");
	}
	if (decode_golden(dir, "twin_history_result", &second) == 0)
		check(frame.history.found, "twin_history_result: 21.75 at its ts");
	if (decode_golden(dir, "twin_history_result", &wrong) == 0)
		check(!frame.history.found, "twin_history_result: 21.5 is not at the second ts");
	if (decode_golden(dir, "rpc_error", NULL) == 0)
		check(frame.has_success && !frame.success && frame.error[0] != '\0', "rpc_error: error");
	if (decode_golden(dir, "outpost_error", NULL) == 0)
		check(strcmp(frame.type, "outpost_error") == 0 && strcmp(frame.code, "agent_busy") == 0,
		      "outpost_error: code");
}

/* Mutation test: every golden frame, changed at random, must be decoded
 * or refused, never read out of bounds (each input is a heap block of its
 * exact size, so AddressSanitizer sees a one-byte over-read). */

static const char *const mutation_seeds[] = {
	"twin_desired", "twin_desired_empty", "twin_history_result",
	"twin_ack", "twin_ack_error", "twin_telemetry", "twin_telemetry_ts",
	"twin_history_request", "rpc_error", "rpc_success", "outpost_error",
	"cf_agent_mcp_servers",
};

#define SEED_COUNT (sizeof mutation_seeds / sizeof mutation_seeds[0])

static uint32_t rng_state = 0x9e3779b9;

static uint32_t rng(void) /* xorshift32: the same inputs on every run */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* mutate changes 1 to 4 bytes of buf (or cuts it) and returns its length. */
static size_t mutate(uint8_t *buf, size_t n)
{
	static const uint8_t headers[] = {
		0x00, 0x17, 0x18, 0x1b, 0x3b, 0x5f, 0x7f, 0x9f, 0xbf,
		0xa0, 0x80, 0xc1, 0xf8, 0xf9, 0xfa, 0xfb, 0xff,
	};
	int edits = 1 + (int)(rng() % 4);

	for (int i = 0; i < edits && n > 0; i++) {
		size_t at = rng() % n;

		switch (rng() % 4) {
		case 0:
			buf[at] = (uint8_t)rng();
			break;
		case 1:
			buf[at] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 2:
			buf[at] = headers[rng() % sizeof headers];
			break;
		default:
			n = at;
			break;
		}
	}
	return n;
}

static void check_mutations(const char *dir, long rounds)
{
	static uint8_t seeds[SEED_COUNT][GOLDEN_MAX];
	static size_t lens[SEED_COUNT];
	struct history_probe probe = {.want_ts = 1764000000000ULL, .want_temp = 21.5};
	long decoded = 0;

	for (size_t i = 0; i < SEED_COUNT; i++)
		if ((lens[i] = load(dir, mutation_seeds[i], seeds[i], GOLDEN_MAX)) == 0)
			return;
	for (long r = 0; r < rounds; r++) {
		size_t k = (size_t)r % SEED_COUNT;
		uint8_t tmp[GOLDEN_MAX];
		size_t n;
		uint8_t *in;
		struct frame f;
		char err[96];

		memcpy(tmp, seeds[k], lens[k]);
		n = mutate(tmp, lens[k]);
		in = malloc(n > 0 ? n : 1); /* self-test only: exact-size block */
		if (in == NULL) {
			check(false, "mutations: out of memory");
			return;
		}
		memcpy(in, tmp, n);
		if (decode_frame(in, n, &probe, &f, err, sizeof err) == 0) {
			decoded++;
			check(strlen(f.type) < sizeof f.type && strlen(f.id) < sizeof f.id &&
			      strlen(f.error) < sizeof f.error, "mutations: text fields terminated");
		} else {
			check(err[0] != '\0', "mutations: a refusal says why");
		}
		free(in);
	}
	printf("ok   %ld mutated frames decoded (%ld) or refused\n", rounds, decoded);
}

int selftest(const char *golden_dir, long mutations)
{
	failures = 0;
	check_encoding(golden_dir);
	check_widths();
	check_decoding(golden_dir);
	check_mutations(golden_dir, mutations);
	if (failures > 0) {
		fprintf(stderr, "selftest: %d failures\n", failures);
		return -1;
	}
	printf("selftest: all frames match %s\n", golden_dir);
	return 0;
}
