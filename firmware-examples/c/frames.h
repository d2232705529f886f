/*
 * frames.h: the twin agent's CBOR frames (docs/twin.md), encoded into and
 * decoded from caller-owned fixed buffers. No heap allocation: encoding uses
 * libcbor's streaming encoders (cbor_encode_*), decoding its streaming
 * decoder (cbor_stream_decode), one data item at a time.
 *
 * The encoder writes RFC 8949 core deterministic CBOR, byte for byte what
 * the gateway writes (codecs/testdata/golden/twin_*.cbor):
 *   - map keys sorted by their encoded bytes (text keys: shorter first,
 *     then bytewise);
 *   - integers and lengths in their shortest form;
 *   - floats in the shortest width that keeps the value exactly
 *     (21.5 is the half float f9 4d 60);
 *   - definite lengths only.
 */
#ifndef FRAMES_H
#define FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_TEXT_MAX 128   /* longest text kept from a received frame */
#define FRAME_ID_MAX 32      /* longest rpc id */
#define FRAME_MAX_READINGS 16 /* values in one telemetry frame */

/* ---- encoding ---------------------------------------------------------- */

/* enc is a fixed output buffer; any write that does not fit sets overflow
 * and every later write is a no-op, so callers check once at the end. */
struct enc {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

enum value_kind { VAL_NULL, VAL_BOOL, VAL_INT, VAL_FLOAT, VAL_TEXT };

/* value is one telemetry value (docs/twin.md: integer, float, bool, text
 * or null). */
struct value {
	enum value_kind kind;
	bool b;
	int64_t i;
	double f;
	const char *s;
};

/* reading is one key of a telemetry frame's "values". */
struct reading {
	const char *key;
	struct value v;
};

void enc_init(struct enc *e, uint8_t *buf, size_t cap);

/* Frames a device sends. Each returns the frame's length, or 0 when it
 * does not fit the buffer (or the arguments are out of range). */
size_t encode_ack(struct enc *e, uint64_t version);
size_t encode_ack_error(struct enc *e, uint64_t version, const char *error);
/* has_ts false: no "ts" key (a device without a clock). The readings may
 * come in any order; the encoder sorts the keys. */
size_t encode_telemetry(struct enc *e, bool has_ts, uint64_t ts_ms,
			const struct reading *readings, size_t n);
/* {"type": "rpc", "id": ID, "method": "history", "args": [from, null, key]} */
size_t encode_history_request(struct enc *e, const char *id, uint64_t from_ms,
			      const char *key);

/* ---- decoding ---------------------------------------------------------- */

/* device_config is the configuration this device understands; other keys
 * of a desired configuration are ignored. */
struct device_config {
	uint32_t interval_s; /* seconds between telemetry cycles, 1..3600 */
	bool led;
	char unit;           /* 'C' or 'F' */
};

void config_defaults(struct device_config *c);

/* history_probe: what a history result is checked for. The decoder counts
 * the rows and sets found when a row has ts == want_ts and a "temp" value
 * equal to want_temp. */
struct history_probe {
	uint64_t want_ts;
	double want_temp;
	uint32_t rows;
	bool more;
	bool found;
};

/* frame: the fields of any frame the twin sends, filled in one pass over
 * the map whatever the order of its keys. */
struct frame {
	char type[24];
	bool has_version;
	uint64_t version;
	bool has_config;
	struct device_config config; /* the config applied over the current */
	char config_error[FRAME_TEXT_MAX]; /* non-empty: it cannot be applied */
	char id[FRAME_ID_MAX];
	bool has_success;
	bool success;
	bool done;
	char code[32];
	char error[FRAME_TEXT_MAX];
	bool has_result;
	struct history_probe history;
};

/* decode_frame decodes one received frame into f. A desired configuration
 * is the whole configuration, not a patch: keys it leaves out take their
 * defaults. probe (may be NULL) says what to look for in a history result.
 * Returns 0, or -1 with a reason in err when the bytes are not well-formed
 * CBOR, not a map, or have no text "type". */
int decode_frame(const uint8_t *data, size_t len,
		 const struct history_probe *probe, struct frame *f,
		 char *err, size_t errlen);

#endif
