/*
 * frames.c: encode and decode the twin's frames in fixed buffers.
 * See frames.h for the encoding rules.
 */
#include "frames.h"

#include <cbor.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ======================================================================
 * Encoding: libcbor's streaming encoders write one header or scalar into
 * the space left in the buffer and return 0 when it does not fit.
 * ====================================================================== */

void enc_init(struct enc *e, uint8_t *buf, size_t cap)
{
	e->buf = buf;
	e->cap = cap;
	e->len = 0;
	e->overflow = false;
}

static void enc_reset(struct enc *e)
{
	e->len = 0;
	e->overflow = false;
}

static uint8_t *enc_at(const struct enc *e)
{
	return e->buf + e->len;
}

static size_t enc_room(const struct enc *e)
{
	return e->overflow ? 0 : e->cap - e->len;
}

/* enc_put accounts for n bytes just written; 0 means they did not fit. */
static void enc_put(struct enc *e, size_t n)
{
	if (n == 0)
		e->overflow = true;
	else
		e->len += n;
}

static size_t enc_done(const struct enc *e)
{
	return e->overflow ? 0 : e->len;
}

/* cbor_encode_uint picks the shortest of the 1, 2, 3, 5 and 9 byte forms. */
static void enc_uint(struct enc *e, uint64_t u)
{
	enc_put(e, cbor_encode_uint(u, enc_at(e), enc_room(e)));
}

static void enc_int(struct enc *e, int64_t i)
{
	if (i >= 0)
		enc_uint(e, (uint64_t)i);
	else /* major type 1 carries -1 - i */
		enc_put(e, cbor_encode_negint((uint64_t)(-(i + 1)), enc_at(e),
					      enc_room(e)));
}

static void enc_text(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	enc_put(e, cbor_encode_string_start(n, enc_at(e), enc_room(e)));
	if (enc_room(e) < n) {
		e->overflow = true;
		return;
	}
	memcpy(enc_at(e), s, n);
	e->len += n;
}

static void enc_map(struct enc *e, size_t n)
{
	enc_put(e, cbor_encode_map_start(n, enc_at(e), enc_room(e)));
}

static void enc_array(struct enc *e, size_t n)
{
	enc_put(e, cbor_encode_array_start(n, enc_at(e), enc_room(e)));
}

static void enc_bool(struct enc *e, bool b)
{
	enc_put(e, cbor_encode_bool(b, enc_at(e), enc_room(e)));
}

static void enc_null(struct enc *e)
{
	enc_put(e, cbor_encode_null(enc_at(e), enc_room(e)));
}

/* half_to_double decodes an IEEE 754 half (RFC 8949 Appendix D). */
static double half_to_double(uint16_t h)
{
	int exp = (h >> 10) & 0x1f;
	int mant = h & 0x3ff;
	double v;

	if (exp == 0)
		v = ldexp(mant, -24);
	else if (exp != 31)
		v = ldexp(mant + 1024, exp - 25);
	else
		v = mant == 0 ? INFINITY : NAN;
	return (h & 0x8000) ? -v : v;
}

/* enc_float writes d in the shortest width that holds it exactly: half
 * (f9), single (fa) or double (fb), as RFC 8949 §4.2.1 (core
 * deterministic encoding) asks. The half candidate is decoded back and
 * compared, so a rounding half encoder can never lose precision. NaN is
 * the canonical half f9 7e 00. */
static void enc_raw(struct enc *e, const uint8_t *p, size_t n)
{
	if (enc_room(e) < n) {
		e->overflow = true;
		return;
	}
	memcpy(enc_at(e), p, n);
	e->len += n;
}

static void enc_float(struct enc *e, double d)
{
	static const uint8_t nan16[3] = {0xf9, 0x7e, 0x00};
	uint8_t half[3];
	double back;

	if (isnan(d)) {
		enc_raw(e, nan16, sizeof nan16);
		return;
	}
	/* beyond FLT_MAX (but finite) the cast to float would be undefined */
	if ((fabs(d) > FLT_MAX && !isinf(d)) || (double)(float)d != d) {
		enc_put(e, cbor_encode_double(d, enc_at(e), enc_room(e)));
		return;
	}
	if (cbor_encode_half((float)d, half, sizeof half) == sizeof half) {
		back = half_to_double((uint16_t)(half[1] << 8 | half[2]));
		if (back == d && signbit(back) == signbit(d)) {
			enc_raw(e, half, sizeof half);
			return;
		}
	}
	enc_put(e, cbor_encode_single((float)d, enc_at(e), enc_room(e)));
}

static void enc_value(struct enc *e, const struct value *v)
{
	switch (v->kind) {
	case VAL_NULL:
		enc_null(e);
		break;
	case VAL_BOOL:
		enc_bool(e, v->b);
		break;
	case VAL_INT:
		enc_int(e, v->i);
		break;
	case VAL_FLOAT:
		enc_float(e, v->f);
		break;
	case VAL_TEXT:
		enc_text(e, v->s);
		break;
	}
}

/* key_before orders text keys as deterministic CBOR orders their
 * encodings: the header holds the length, so a shorter key comes first,
 * and keys of one length compare bytewise. */
static bool key_before(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb;
	return memcmp(a, b, la) < 0;
}

/* sort_readings fills order with the indexes of r sorted by key; it
 * returns -1 on a duplicate key. Insertion sort: n is at most 16. */
static int sort_readings(const struct reading *r, size_t n, size_t *order)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		while (j > 0 && key_before(r[i].key, r[order[j - 1]].key)) {
			order[j] = order[j - 1];
			j--;
		}
		if (j > 0 && strcmp(r[i].key, r[order[j - 1]].key) == 0)
			return -1;
		order[j] = i;
	}
	return 0;
}

size_t encode_ack(struct enc *e, uint64_t version)
{
	enc_reset(e);
	enc_map(e, 2);
	enc_text(e, "type");
	enc_text(e, "ack");
	enc_text(e, "version");
	enc_uint(e, version);
	return enc_done(e);
}

size_t encode_ack_error(struct enc *e, uint64_t version, const char *error)
{
	enc_reset(e);
	enc_map(e, 4); /* ok, type, error, version: by length, then bytes */
	enc_text(e, "ok");
	enc_bool(e, false);
	enc_text(e, "type");
	enc_text(e, "ack");
	enc_text(e, "error");
	enc_text(e, error);
	enc_text(e, "version");
	enc_uint(e, version);
	return enc_done(e);
}

size_t encode_telemetry(struct enc *e, bool has_ts, uint64_t ts_ms,
			const struct reading *readings, size_t n)
{
	size_t order[FRAME_MAX_READINGS];

	enc_reset(e);
	if (n == 0 || n > FRAME_MAX_READINGS)
		return 0;
	if (sort_readings(readings, n, order) != 0)
		return 0;
	enc_map(e, has_ts ? 3 : 2); /* ts, type, values */
	if (has_ts) {
		enc_text(e, "ts");
		enc_uint(e, ts_ms);
	}
	enc_text(e, "type");
	enc_text(e, "telemetry");
	enc_text(e, "values");
	enc_map(e, n);
	for (size_t i = 0; i < n; i++) {
		enc_text(e, readings[order[i]].key);
		enc_value(e, &readings[order[i]].v);
	}
	return enc_done(e);
}

size_t encode_history_request(struct enc *e, const char *id, uint64_t from_ms,
			      const char *key)
{
	enc_reset(e);
	enc_map(e, 4); /* id, args, type, method */
	enc_text(e, "id");
	enc_text(e, id);
	enc_text(e, "args");
	enc_array(e, 3);
	enc_uint(e, from_ms);
	enc_null(e);
	enc_text(e, key);
	enc_text(e, "type");
	enc_text(e, "rpc");
	enc_text(e, "method");
	enc_text(e, "history");
	return enc_done(e);
}

/* ======================================================================
 * Decoding: a pull reader over cbor_stream_decode. Each call decodes one
 * data item (a scalar, a string, or the header of an array, map or tag)
 * into a struct item through the callbacks below; strings point into the
 * frame, nothing is copied or allocated.
 * ====================================================================== */

enum item_kind {
	IT_UINT, IT_NEGINT, IT_BYTES, IT_TEXT, IT_ARRAY, IT_MAP, IT_TAG,
	IT_FLOAT, IT_BOOL, IT_NULL, IT_UNDEF, IT_UNSUPPORTED,
};

struct item {
	enum item_kind kind;
	uint64_t u;        /* uint; negint n (value -1-n); count; tag */
	double f;
	bool b;
	const uint8_t *s;  /* text or bytes, not NUL-terminated */
	size_t n;
};

struct reader {
	const uint8_t *p;
	size_t len;
	size_t pos;
	char *err;
	size_t errlen;
};

static struct item *cb_item(void *ctx)
{
	return ctx;
}

static void cb_uint(void *ctx, uint64_t v)
{
	cb_item(ctx)->kind = IT_UINT;
	cb_item(ctx)->u = v;
}

static void cb_uint8(void *ctx, uint8_t v) { cb_uint(ctx, v); }
static void cb_uint16(void *ctx, uint16_t v) { cb_uint(ctx, v); }
static void cb_uint32(void *ctx, uint32_t v) { cb_uint(ctx, v); }

static void cb_negint(void *ctx, uint64_t v)
{
	cb_item(ctx)->kind = IT_NEGINT;
	cb_item(ctx)->u = v;
}

static void cb_negint8(void *ctx, uint8_t v) { cb_negint(ctx, v); }
static void cb_negint16(void *ctx, uint16_t v) { cb_negint(ctx, v); }
static void cb_negint32(void *ctx, uint32_t v) { cb_negint(ctx, v); }

static void cb_string(void *ctx, cbor_data data, size_t n, enum item_kind k)
{
	cb_item(ctx)->kind = k;
	cb_item(ctx)->s = data;
	cb_item(ctx)->n = n;
}

static void cb_text(void *ctx, cbor_data d, size_t n) { cb_string(ctx, d, n, IT_TEXT); }
static void cb_bytes(void *ctx, cbor_data d, size_t n) { cb_string(ctx, d, n, IT_BYTES); }

static void cb_count(void *ctx, size_t n, enum item_kind k)
{
	cb_item(ctx)->kind = k;
	cb_item(ctx)->u = n;
}

static void cb_array(void *ctx, size_t n) { cb_count(ctx, n, IT_ARRAY); }
static void cb_map(void *ctx, size_t n) { cb_count(ctx, n, IT_MAP); }

static void cb_tag(void *ctx, uint64_t v)
{
	cb_item(ctx)->kind = IT_TAG;
	cb_item(ctx)->u = v;
}

static void cb_double(void *ctx, double v)
{
	cb_item(ctx)->kind = IT_FLOAT;
	cb_item(ctx)->f = v;
}

static void cb_float(void *ctx, float v) { cb_double(ctx, v); }

static void cb_bool(void *ctx, bool v)
{
	cb_item(ctx)->kind = IT_BOOL;
	cb_item(ctx)->b = v;
}

static void cb_null(void *ctx) { cb_item(ctx)->kind = IT_NULL; }
static void cb_undef(void *ctx) { cb_item(ctx)->kind = IT_UNDEF; }

/* Indefinite lengths never appear in deterministic CBOR. */
static void cb_unsupported(void *ctx) { cb_item(ctx)->kind = IT_UNSUPPORTED; }

static const struct cbor_callbacks callbacks = {
	.uint8 = cb_uint8,
	.uint16 = cb_uint16,
	.uint32 = cb_uint32,
	.uint64 = cb_uint,
	.negint8 = cb_negint8,
	.negint16 = cb_negint16,
	.negint32 = cb_negint32,
	.negint64 = cb_negint,
	.byte_string = cb_bytes,
	.byte_string_start = cb_unsupported,
	.string = cb_text,
	.string_start = cb_unsupported,
	.array_start = cb_array,
	.indef_array_start = cb_unsupported,
	.map_start = cb_map,
	.indef_map_start = cb_unsupported,
	.tag = cb_tag,
	.float2 = cb_float,
	.float4 = cb_float,
	.float8 = cb_double,
	.undefined = cb_undef,
	.null = cb_null,
	.boolean = cb_bool,
	.indef_break = cb_unsupported,
};

static int fail(struct reader *r, const char *why)
{
	if (r->err[0] == '\0')
		snprintf(r->err, r->errlen, "%s at byte %zu", why, r->pos);
	return -1;
}

static int read_item(struct reader *r, struct item *it)
{
	struct cbor_decoder_result res;

	if (r->pos >= r->len)
		return fail(r, "truncated frame");
	it->kind = IT_UNSUPPORTED;
	res = cbor_stream_decode(r->p + r->pos, r->len - r->pos, &callbacks, it);
	if (res.status == CBOR_DECODER_NEDATA)
		return fail(r, "truncated frame");
	if (res.status != CBOR_DECODER_FINISHED)
		return fail(r, "malformed CBOR");
	if (it->kind == IT_UNSUPPORTED)
		return fail(r, "indefinite length or unknown simple value");
	r->pos += res.read;
	return 0;
}

/* skip_rest skips what follows the header it just read: the elements of
 * an array or map, the content of a tag. It counts pending items instead
 * of recursing, and since every item takes at least one byte, a count
 * larger than the bytes left is malformed. */
static int skip_rest(struct reader *r, const struct item *first)
{
	uint64_t pending = 0;
	struct item it = *first;

	for (;;) {
		uint64_t add = 0, left = r->len - r->pos;

		if (it.kind == IT_ARRAY || it.kind == IT_TAG)
			add = it.kind == IT_TAG ? 1 : it.u;
		else if (it.kind == IT_MAP)
			add = it.u > left ? left + 1 : 2 * it.u;
		if (add > left || pending > left - add)
			return fail(r, "item count beyond the frame");
		pending += add;
		if (pending == 0)
			return 0;
		if (read_item(r, &it) != 0)
			return -1;
		pending--;
	}
}

static int skip_value(struct reader *r)
{
	struct item it;

	if (read_item(r, &it) != 0)
		return -1;
	return skip_rest(r, &it);
}

static bool is_key(const struct item *it, const char *key)
{
	size_t n = strlen(key);

	return it->kind == IT_TEXT && it->n == n && memcmp(it->s, key, n) == 0;
}

/* copy_text copies a text item into dst, cut to fit and NUL-terminated. */
static void copy_text(const struct item *it, char *dst, size_t cap)
{
	size_t n = it->n < cap - 1 ? it->n : cap - 1;

	memcpy(dst, it->s, n);
	dst[n] = '\0';
}

/* read_kind reads one item that must be of kind k. */
static int read_kind(struct reader *r, struct item *it, enum item_kind k,
		     const char *want)
{
	if (read_item(r, it) != 0)
		return -1;
	if (it->kind != k)
		return fail(r, want);
	return 0;
}

static int read_text(struct reader *r, char *dst, size_t cap)
{
	struct item it;

	if (read_kind(r, &it, IT_TEXT, "expected text") != 0)
		return -1;
	copy_text(&it, dst, cap);
	return 0;
}

static int read_uint(struct reader *r, uint64_t *u)
{
	struct item it;

	if (read_kind(r, &it, IT_UINT, "expected an unsigned integer") != 0)
		return -1;
	*u = it.u;
	return 0;
}

static int read_bool(struct reader *r, bool *b)
{
	struct item it;

	if (read_kind(r, &it, IT_BOOL, "expected a bool") != 0)
		return -1;
	*b = it.b;
	return 0;
}

/* read_map_key reads the next key of a map; the twin's keys are text. */
static int read_map_key(struct reader *r, struct item *key)
{
	if (read_item(r, key) != 0)
		return -1;
	if (key->kind != IT_TEXT)
		return fail(r, "map key is not text");
	return 0;
}

void config_defaults(struct device_config *c)
{
	c->interval_s = 30;
	c->led = false;
	c->unit = 'C';
}

static void config_refuse(struct frame *f, const char *why)
{
	if (f->config_error[0] == '\0')
		snprintf(f->config_error, sizeof f->config_error, "%s", why);
}

/* decode_config_value checks one configuration value; a value the device
 * cannot apply is noted in config_error (the device then refuses the
 * whole configuration in its ack) and the frame still decodes. */
static int decode_config_value(struct reader *r, const struct item *key,
			       struct frame *f)
{
	struct item v;

	if (read_item(r, &v) != 0)
		return -1;
	if (is_key(key, "interval_s")) {
		if (v.kind != IT_UINT || v.u < 1 || v.u > 3600)
			config_refuse(f, "interval_s out of range");
		else
			f->config.interval_s = (uint32_t)v.u;
	} else if (is_key(key, "led")) {
		if (v.kind != IT_BOOL)
			config_refuse(f, "led is not a bool");
		else
			f->config.led = v.b;
	} else if (is_key(key, "unit")) {
		if (v.kind != IT_TEXT || v.n != 1 || (v.s[0] != 'C' && v.s[0] != 'F'))
			config_refuse(f, "unit is not \"C\" or \"F\"");
		else
			f->config.unit = (char)v.s[0];
	}
	return skip_rest(r, &v); /* unknown keys, and containers, are skipped */
}

static int decode_config(struct reader *r, struct frame *f)
{
	struct item it, key;

	if (read_item(r, &it) != 0)
		return -1;
	f->has_config = true;
	config_defaults(&f->config);
	if (it.kind != IT_MAP) {
		config_refuse(f, "config is not a map");
		return skip_rest(r, &it);
	}
	for (uint64_t i = 0; i < it.u; i++) {
		if (read_map_key(r, &key) != 0 ||
		    decode_config_value(r, &key, f) != 0)
			return -1;
	}
	return 0;
}

/* decode_row reads {"ts": ms, "values": {key: value}} and checks it
 * against the probe. */
static int decode_row(struct reader *r, struct history_probe *h)
{
	struct item it, key, v;
	bool has_ts = false, has_temp = false;
	uint64_t ts = 0;
	double temp = 0;

	if (read_item(r, &it) != 0)
		return -1;
	if (it.kind != IT_MAP)
		return skip_rest(r, &it);
	for (uint64_t i = 0; i < it.u; i++) {
		if (read_map_key(r, &key) != 0 || read_item(r, &v) != 0)
			return -1;
		if (is_key(&key, "ts") && v.kind == IT_UINT) {
			has_ts = true;
			ts = v.u;
			continue;
		}
		if (!is_key(&key, "values") || v.kind != IT_MAP) {
			if (skip_rest(r, &v) != 0)
				return -1;
			continue;
		}
		for (uint64_t j = 0; j < v.u; j++) {
			struct item vk, vv;

			if (read_map_key(r, &vk) != 0 || read_item(r, &vv) != 0)
				return -1;
			if (is_key(&vk, "temp") && vv.kind == IT_FLOAT) {
				has_temp = true;
				temp = vv.f;
			} else if (is_key(&vk, "temp") && vv.kind == IT_UINT) {
				has_temp = true;
				temp = (double)vv.u;
			} else if (skip_rest(r, &vv) != 0) {
				return -1;
			}
		}
	}
	h->rows++;
	if (has_ts && has_temp && ts == h->want_ts && temp == h->want_temp)
		h->found = true;
	return 0;
}

/* decode_result reads an rpc result; a history result is a map with
 * "rows" and "more", any other result is skipped. */
static int decode_result(struct reader *r, struct frame *f)
{
	struct item it, key, v;

	if (read_item(r, &it) != 0)
		return -1;
	f->has_result = true;
	if (it.kind != IT_MAP)
		return skip_rest(r, &it);
	for (uint64_t i = 0; i < it.u; i++) {
		if (read_map_key(r, &key) != 0 || read_item(r, &v) != 0)
			return -1;
		if (is_key(&key, "more") && v.kind == IT_BOOL) {
			f->history.more = v.b;
		} else if (is_key(&key, "rows") && v.kind == IT_ARRAY) {
			for (uint64_t j = 0; j < v.u; j++)
				if (decode_row(r, &f->history) != 0)
					return -1;
		} else if (skip_rest(r, &v) != 0) {
			return -1;
		}
	}
	return 0;
}

static int decode_field(struct reader *r, const struct item *key,
			struct frame *f)
{
	if (is_key(key, "type"))
		return read_text(r, f->type, sizeof f->type);
	if (is_key(key, "version")) {
		f->has_version = true;
		return read_uint(r, &f->version);
	}
	if (is_key(key, "config"))
		return decode_config(r, f);
	if (is_key(key, "id"))
		return read_text(r, f->id, sizeof f->id);
	if (is_key(key, "success")) {
		f->has_success = true;
		return read_bool(r, &f->success);
	}
	if (is_key(key, "done"))
		return read_bool(r, &f->done);
	if (is_key(key, "code"))
		return read_text(r, f->code, sizeof f->code);
	if (is_key(key, "error"))
		return read_text(r, f->error, sizeof f->error);
	if (is_key(key, "result"))
		return decode_result(r, f);
	return skip_value(r); /* extra keys are ignored (docs/twin.md) */
}

int decode_frame(const uint8_t *data, size_t len,
		 const struct history_probe *probe, struct frame *f,
		 char *err, size_t errlen)
{
	struct reader r = {.p = data, .len = len, .err = err, .errlen = errlen};
	struct item it, key;

	memset(f, 0, sizeof *f);
	config_defaults(&f->config);
	if (probe != NULL) {
		f->history.want_ts = probe->want_ts;
		f->history.want_temp = probe->want_temp;
	}
	err[0] = '\0';
	if (read_item(&r, &it) != 0)
		return -1;
	if (it.kind != IT_MAP)
		return fail(&r, "frame is not a map");
	for (uint64_t i = 0; i < it.u; i++) {
		if (read_map_key(&r, &key) != 0 || decode_field(&r, &key, f) != 0)
			return -1;
	}
	if (r.pos != r.len)
		return fail(&r, "trailing bytes after the frame");
	if (f->type[0] == '\0')
		return fail(&r, "frame without a text \"type\"");
	return 0;
}
