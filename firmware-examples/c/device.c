/*
 * device.c: an Outpost device in C, written as firmware is written.
 *
 * It follows the device cycle of docs/twin.md against the built-in twin
 * agent named DEVICE_NAME, over MQTT 3.1.1 (libmosquitto) with CBOR frames
 * (libcbor, frames.c):
 *
 *   1. connect (with credentials when given) and subscribe to
 *      agents/twin/{name}/out, which joins the twin;
 *   2. receive the desired configuration, apply it, publish an "ack";
 *   3. publish "telemetry" at QoS 1 (the PUBACK means the twin stored it);
 *   4. call "history" with an "rpc" frame and check the telemetry came back.
 *
 * Then it repeats 3-4 every interval_s seconds (from the configuration),
 * applies and acks every new configuration, and reconnects with backoff
 * when the gateway goes away. With --once it runs one cycle and exits 0
 * only if every step succeeded.
 *
 * One thread, one explicit loop (mosquitto_loop), a state machine, fixed
 * buffers: nothing in the loop allocates except libmosquitto itself (it
 * copies each outgoing payload and allocates each incoming message).
 */
#include <errno.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"
#include "selftest.h"

#define STEP_TIMEOUT_MS 10000   /* each step of a cycle */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define KEEPALIVE_S 30
#define LOOP_TIMEOUT_MS 100
#define TOPIC_MAX 192
#define NAME_MAX_LEN 128
#define TX_MAX 512
#define FIRMWARE_VERSION "1.0.0"

struct options {
	char host[128];
	int port;
	const char *user;
	const char *password;
	const char *name;
	bool once;
	bool selftest;
	const char *golden_dir;
	int timeout_s; /* --once: the whole cycle, reconnects included */
	long interval_ms; /* --interval: overrides interval_s; 0: use it */
	long mutations;   /* --selftest: mutated frames to decode */
};

enum phase {
	PH_OFFLINE,    /* not connected; next attempt at next_connect_ms */
	PH_CONNECTING, /* CONNECT sent, waiting for CONNACK */
	PH_JOINING,    /* subscribed, waiting for the desired config's ack */
	PH_IDLE,       /* joined; next cycle at next_cycle_ms */
	PH_TELEMETRY,  /* telemetry published, waiting for its PUBACK */
	PH_HISTORY,    /* history rpc published, waiting for the reply */
};

struct device {
	struct options opt;
	struct mosquitto *mosq;
	char topic_in[TOPIC_MAX];
	char topic_out[TOPIC_MAX];
	enum phase phase;
	long long phase_deadline_ms;
	long long next_connect_ms;
	long long next_cycle_ms;
	int backoff_ms;
	struct device_config config;
	uint64_t config_version;
	int ack_mid;          /* mid of the last ack published, -1 none */
	int telemetry_mid;
	uint32_t cycle;
	uint64_t last_ts;
	struct history_probe probe;
	char rpc_id[FRAME_ID_MAX];
	uint32_t cycles_ok;
	bool done;            /* --once: the cycle succeeded */
	bool failed;          /* --once: a step failed */
	char last_error[128]; /* --once: said in the FAILED line */
	uint8_t tx[TX_MAX];   /* every outgoing frame is encoded here */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static long long clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

static void sleep_ms(long long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- options ------------------------------------------------------------ */

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

/* parse_url takes tcp://host[:port] or mqtt://host[:port] ([v6] hosts
 * too). TLS (mqtts://) is not in this example: see README.md. */
static int parse_url(const char *url, struct options *o)
{
	const char *p = NULL, *end, *colon;
	size_t n;

	if (strncmp(url, "tcp://", 6) == 0)
		p = url + 6;
	else if (strncmp(url, "mqtt://", 7) == 0)
		p = url + 7;
	if (p == NULL || *p == '\0') {
		fprintf(stderr, "device: broker URL %s: want tcp://host:port\n", url);
		return -1;
	}
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			goto bad;
		colon = end[1] == ':' ? end + 1 : NULL;
		p++;
	} else {
		colon = strrchr(p, ':');
		end = colon != NULL ? colon : p + strlen(p);
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof o->host)
		goto bad;
	memcpy(o->host, p, n);
	o->host[n] = '\0';
	o->port = 1883;
	if (colon != NULL) {
		char *rest;
		long port = strtol(colon + 1, &rest, 10);

		if (*rest != '\0' && *rest != '/')
			goto bad;
		if (port < 1 || port > 65535)
			goto bad;
		o->port = (int)port;
	}
	return 0;
bad:
	fprintf(stderr, "device: broker URL %s: bad host or port\n", url);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: device [--once] [--url URL] [--user U] [--password P] [--name NAME]\n"
		"              [--interval 200ms|5s] [--timeout SECONDS]\n"
		"              [--selftest [--golden DIR] [--mutations N]]\n"
		"environment: DEVICE_MQTT_URL (tcp://127.0.0.1:1883), DEVICE_USER,\n"
		"             DEVICE_PASSWORD, DEVICE_NAME (device-1); flags win\n");
}

/* parse_interval reads 200ms, 5s or 5 (seconds) into milliseconds. */
static long parse_interval(const char *v)
{
	char *rest;
	long n = strtol(v, &rest, 10);

	if (n <= 0 || n > 3600000)
		return -1;
	if (strcmp(rest, "ms") == 0)
		return n;
	if (strcmp(rest, "s") == 0 || *rest == '\0')
		return n <= 3600 ? n * 1000 : -1;
	return -1;
}

/* golden_default is ../../codecs/testdata/golden beside the binary, so
 * run.sh --selftest works from anywhere. */
static const char *golden_default(const char *argv0)
{
	static char path[512];
	const char *slash = strrchr(argv0, '/');
	int n = slash == NULL ? 1 : (int)(slash - argv0);

	snprintf(path, sizeof path, "%.*s/../../codecs/testdata/golden", n,
		 slash == NULL ? "." : argv0);
	return path;
}

/* valid_name refuses names that would change the topic's levels. */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= NAME_MAX_LEN && strpbrk(name, "/+#") == NULL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	const char *url = env_or("DEVICE_MQTT_URL", "tcp://127.0.0.1:1883");

	memset(o, 0, sizeof *o);
	o->user = env_or("DEVICE_USER", NULL);
	o->password = env_or("DEVICE_PASSWORD", NULL);
	o->name = env_or("DEVICE_NAME", "device-1");
	o->golden_dir = golden_default(argv[0]);
	o->timeout_s = 30;
	o->mutations = 20000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (strcmp(a, "--once") == 0) {
			o->once = true;
			takes = false;
		} else if (strcmp(a, "--selftest") == 0) {
			o->selftest = true;
			takes = false;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (v == NULL) {
			takes = false;
			fprintf(stderr, "device: %s: unknown flag or missing value\n", a);
			return -1;
		} else if (strcmp(a, "--url") == 0) {
			url = v;
		} else if (strcmp(a, "--user") == 0) {
			o->user = v;
		} else if (strcmp(a, "--password") == 0) {
			o->password = v;
		} else if (strcmp(a, "--name") == 0) {
			o->name = v;
		} else if (strcmp(a, "--golden") == 0) {
			o->golden_dir = v;
		} else if (strcmp(a, "--timeout") == 0) {
			o->timeout_s = atoi(v);
		} else if (strcmp(a, "--mutations") == 0) {
			o->mutations = atol(v);
		} else if (strcmp(a, "--interval") == 0) {
			o->interval_ms = parse_interval(v);
			if (o->interval_ms < 0) {
				fprintf(stderr, "device: --interval %s: want 200ms or 5s\n", v);
				return -1;
			}
		} else {
			fprintf(stderr, "device: %s: unknown flag\n", a);
			return -1;
		}
		if (takes)
			i++;
	}
	if (!valid_name(o->name)) {
		fprintf(stderr, "device: name %s: want 1 to %d bytes without / + #\n",
			o->name, NAME_MAX_LEN);
		return -1;
	}
	if (o->timeout_s <= 0) {
		fprintf(stderr, "device: --timeout: want a positive number of seconds\n");
		return -1;
	}
	return parse_url(url, o);
}

/* ---- phases -------------------------------------------------------------- */

static void enter(struct device *d, enum phase p)
{
	d->phase = p;
	d->phase_deadline_ms = mono_ms() + STEP_TIMEOUT_MS;
}

/* schedule_reconnect waits out the backoff (doubling, with jitter so a
 * fleet does not reconnect in step after a gateway restart). */
static void schedule_reconnect(struct device *d)
{
	int jitter = rand() % (d->backoff_ms / 4 + 1);

	d->phase = PH_OFFLINE;
	d->next_connect_ms = mono_ms() + d->backoff_ms + jitter;
	if (d->backoff_ms < BACKOFF_MAX_MS)
		d->backoff_ms *= 2;
	if (d->backoff_ms > BACKOFF_MAX_MS)
		d->backoff_ms = BACKOFF_MAX_MS;
}

/* note_error keeps the latest failure for --once's FAILED line. */
static void note_error(struct device *d, const char *what, const char *why)
{
	snprintf(d->last_error, sizeof d->last_error, "%s: %s", what, why);
}

/* interval_ms is the time between cycles: --interval, else interval_s. */
static long long interval_ms(const struct device *d)
{
	if (d->opt.interval_ms > 0)
		return d->opt.interval_ms;
	return (long long)d->config.interval_s * 1000;
}

/* step_failed ends a step that went wrong: --once fails the run; in
 * continuous mode the cycle is skipped and the next one comes on time. */
static void step_failed(struct device *d, const char *why)
{
	fprintf(stderr, "device: cycle %u failed: %s\n", d->cycle, why);
	note_error(d, "cycle", why);
	if (d->opt.once) {
		d->failed = true;
		return;
	}
	d->phase = PH_IDLE;
	d->next_cycle_ms = mono_ms() + interval_ms(d);
}

/* connection_lost drops the connection and schedules a reconnect. */
static void connection_lost(struct device *d, const char *why)
{
	if (d->phase == PH_OFFLINE)
		return;
	fprintf(stderr, "device: connection lost: %s; reconnecting\n", why);
	note_error(d, "connection lost", why);
	mosquitto_disconnect(d->mosq);
	schedule_reconnect(d);
}

static int publish(struct device *d, const uint8_t *frame, size_t len, int *mid)
{
	int rc;

	if (len == 0) {
		fprintf(stderr, "device: frame does not fit %d bytes\n", TX_MAX);
		return -1;
	}
	rc = mosquitto_publish(d->mosq, mid, d->topic_in, (int)len, frame, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "device: publish: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---- the cycle ----------------------------------------------------------- */

/* apply_desired applies a desired configuration and acks it: ok when the
 * device can run it, else ok=false with the reason (docs/twin.md, ack). */
static void apply_desired(struct device *d, const struct frame *f)
{
	struct enc e;
	size_t n;

	enc_init(&e, d->tx, sizeof d->tx);
	if (f->config_error[0] != '\0') {
		fprintf(stderr, "device: config version %llu refused: %s\n",
			(unsigned long long)f->version, f->config_error);
		n = encode_ack_error(&e, f->version, f->config_error);
	} else {
		d->config = f->config;
		d->config_version = f->version;
		printf("config version %llu applied: interval_s=%u led=%s unit=%c\n",
		       (unsigned long long)f->version, d->config.interval_s,
		       d->config.led ? "true" : "false", d->config.unit);
		n = encode_ack(&e, f->version);
	}
	if (publish(d, d->tx, n, &d->ack_mid) != 0)
		connection_lost(d, "cannot publish the ack");
}

/* read_sensors fills the readings of this cycle: a simulated temperature
 * (in quarter degrees, so it is a half float on the wire in Celsius and a
 * double in Fahrenheit), humidity, the LED setting and the firmware. */
static size_t read_sensors(const struct device *d, struct reading *r)
{
	double c = 21.5 + 0.25 * (d->cycle % 8);

	r[0] = (struct reading){"temp", {.kind = VAL_FLOAT,
		.f = d->config.unit == 'F' ? c * 9 / 5 + 32 : c}};
	r[1] = (struct reading){"hum", {.kind = VAL_INT, .i = 40 + d->cycle % 5}};
	r[2] = (struct reading){"led", {.kind = VAL_BOOL, .b = d->config.led}};
	r[3] = (struct reading){"fw", {.kind = VAL_TEXT, .s = FIRMWARE_VERSION}};
	return 4;
}

static void start_cycle(struct device *d)
{
	struct reading r[FRAME_MAX_READINGS];
	size_t n = read_sensors(d, r);
	uint64_t ts = (uint64_t)clock_ms(CLOCK_REALTIME);
	struct enc e;

	d->cycle++;
	if (ts <= d->last_ts) /* one sample per (key, ts): keep them apart */
		ts = d->last_ts + 1;
	d->last_ts = ts;
	d->probe = (struct history_probe){.want_ts = ts, .want_temp = r[0].v.f};
	enc_init(&e, d->tx, sizeof d->tx);
	if (publish(d, d->tx, encode_telemetry(&e, true, ts, r, n),
		    &d->telemetry_mid) != 0) {
		connection_lost(d, "cannot publish telemetry");
		return;
	}
	enter(d, PH_TELEMETRY);
}

/* call_history asks for the "temp" samples from the telemetry's ts on. */
static void call_history(struct device *d)
{
	struct enc e;
	int mid;

	snprintf(d->rpc_id, sizeof d->rpc_id, "h-%u", d->cycle);
	enc_init(&e, d->tx, sizeof d->tx);
	if (publish(d, d->tx,
		    encode_history_request(&e, d->rpc_id, d->probe.want_ts, "temp"),
		    &mid) != 0) {
		connection_lost(d, "cannot publish the history call");
		return;
	}
	enter(d, PH_HISTORY);
}

static void history_reply(struct device *d, const struct frame *f)
{
	if (!f->has_success || !f->success) {
		step_failed(d, f->error[0] != '\0' ? f->error : "history call failed");
		return;
	}
	if (!f->history.found) {
		step_failed(d, "the telemetry is not in the history");
		return;
	}
	d->cycles_ok++;
	printf("cycle %u ok: temp %g at %llu stored and read back (%u rows)\n",
	       d->cycle, d->probe.want_temp, (unsigned long long)d->probe.want_ts,
	       f->history.rows);
	if (d->opt.once) {
		d->done = true;
		return;
	}
	d->phase = PH_IDLE;
	d->next_cycle_ms = mono_ms() + interval_ms(d);
}

static void handle_frame(struct device *d, const uint8_t *data, size_t len)
{
	struct frame f;
	char err[96];

	if (decode_frame(data, len, &d->probe, &f, err, sizeof err) != 0) {
		fprintf(stderr, "device: ignoring a frame of %zu bytes: %s\n", len, err);
		return;
	}
	if (strcmp(f.type, "desired") == 0 && f.has_version && f.has_config) {
		apply_desired(d, &f);
	} else if (strcmp(f.type, "rpc") == 0) {
		if (d->phase == PH_HISTORY && strcmp(f.id, d->rpc_id) == 0 && f.done)
			history_reply(d, &f);
	} else if (strcmp(f.type, "outpost_error") == 0) {
		fprintf(stderr, "device: gateway error %s: %s\n", f.code, f.error);
		if (d->phase == PH_TELEMETRY || d->phase == PH_HISTORY)
			step_failed(d, f.error);
	} else {
		fprintf(stderr, "device: ignoring a %s frame\n", f.type);
	}
}

/* ---- libmosquitto callbacks (called from mosquitto_loop, this thread) ---- */

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct device *d = obj;
	int mid;

	(void)m;
	if (rc != 0) {
		fprintf(stderr, "device: connection refused: %s\n",
			mosquitto_connack_string(rc));
		if (d->opt.once)
			d->failed = true;
		connection_lost(d, "refused");
		note_error(d, "connection refused", mosquitto_connack_string(rc));
		return;
	}
	d->backoff_ms = BACKOFF_MIN_MS;
	rc = mosquitto_subscribe(d->mosq, &mid, d->topic_out, 1);
	if (rc != MOSQ_ERR_SUCCESS) {
		connection_lost(d, mosquitto_strerror(rc));
		return;
	}
	d->ack_mid = -1;
	enter(d, PH_JOINING);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	if (rc != 0)
		connection_lost(obj, "disconnected by the gateway or the network");
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct device *d = obj;

	(void)m;
	if (d->phase == PH_JOINING && mid == d->ack_mid) {
		printf("joined twin %s (config version %llu acked)\n", d->opt.name,
		       (unsigned long long)d->config_version);
		d->phase = PH_IDLE;
		d->next_cycle_ms = mono_ms();
	} else if (d->phase == PH_TELEMETRY && mid == d->telemetry_mid) {
		call_history(d);
	}
}

static void on_message(struct mosquitto *m, void *obj,
		       const struct mosquitto_message *msg)
{
	(void)m;
	if (msg->payloadlen <= 0)
		return;
	handle_frame(obj, msg->payload, (size_t)msg->payloadlen);
}

/* ---- main loop ----------------------------------------------------------- */

static void try_connect(struct device *d)
{
	int rc = mosquitto_connect(d->mosq, d->opt.host, d->opt.port, KEEPALIVE_S);
	const char *why = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);

	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "device: connect %s:%d: %s; retrying in %d ms\n",
			d->opt.host, d->opt.port, why, d->backoff_ms);
		note_error(d, "connect", why);
		schedule_reconnect(d);
		return;
	}
	enter(d, PH_CONNECTING);
}

/* tick moves the state machine on by time: reconnects, cycles, timeouts. */
static void tick(struct device *d, long long now)
{
	switch (d->phase) {
	case PH_OFFLINE:
		if (now >= d->next_connect_ms)
			try_connect(d);
		break;
	case PH_IDLE:
		if (now >= d->next_cycle_ms)
			start_cycle(d);
		break;
	case PH_CONNECTING:
	case PH_JOINING:
		if (now >= d->phase_deadline_ms)
			connection_lost(d, d->phase == PH_CONNECTING ?
				"no CONNACK" : "no desired configuration from the twin");
		break;
	case PH_TELEMETRY:
	case PH_HISTORY:
		if (now >= d->phase_deadline_ms)
			step_failed(d, d->phase == PH_TELEMETRY ?
				"no PUBACK for the telemetry" : "no reply to the history call");
		break;
	}
}

static int run(struct device *d)
{
	long long deadline = mono_ms() + (long long)d->opt.timeout_s * 1000;

	while (!stop_requested && !d->done && !d->failed) {
		long long now = mono_ms();

		if (d->opt.once && now >= deadline) {
			fprintf(stderr, "FAILED: no full cycle within %d s (%s)\n",
				d->opt.timeout_s, d->last_error[0] != '\0' ?
				d->last_error : "no error seen");
			return 1;
		}
		tick(d, now);
		if (d->phase == PH_OFFLINE) {
			long long wait = d->next_connect_ms - mono_ms();

			sleep_ms(wait < 0 ? 0 : wait < LOOP_TIMEOUT_MS ? wait : LOOP_TIMEOUT_MS);
			continue;
		}
		int rc = mosquitto_loop(d->mosq, LOOP_TIMEOUT_MS, 1);

		if (rc != MOSQ_ERR_SUCCESS && !stop_requested) /* not EINTR */
			connection_lost(d, rc == MOSQ_ERR_ERRNO ? strerror(errno) :
					mosquitto_strerror(rc));
	}
	if (d->phase != PH_OFFLINE) {
		mosquitto_disconnect(d->mosq);
		mosquitto_loop(d->mosq, LOOP_TIMEOUT_MS, 1);
	}
	if (d->opt.once && !d->done) {
		fprintf(stderr, "FAILED: %s\n", d->last_error[0] != '\0' ?
			d->last_error : "stopped before a full cycle");
		return 1;
	}
	return 0;
}

static int setup(struct device *d)
{
	char client_id[NAME_MAX_LEN + 16];
	int rc;

	snprintf(d->topic_in, sizeof d->topic_in, "agents/twin/%s/in", d->opt.name);
	snprintf(d->topic_out, sizeof d->topic_out, "agents/twin/%s/out", d->opt.name);
	snprintf(client_id, sizeof client_id, "outpost-c-%s", d->opt.name);
	config_defaults(&d->config);
	d->backoff_ms = BACKOFF_MIN_MS;
	d->ack_mid = -1;
	d->telemetry_mid = -1;
	d->phase = PH_OFFLINE;
	d->next_connect_ms = mono_ms();
	d->mosq = mosquitto_new(client_id, true, d);
	if (d->mosq == NULL) {
		fprintf(stderr, "device: mosquitto_new: %s\n", strerror(errno));
		return -1;
	}
	mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	if (d->opt.user != NULL) {
		rc = mosquitto_username_pw_set(d->mosq, d->opt.user, d->opt.password);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "device: credentials: %s\n", mosquitto_strerror(rc));
			return -1;
		}
	}
	mosquitto_connect_callback_set(d->mosq, on_connect);
	mosquitto_disconnect_callback_set(d->mosq, on_disconnect);
	mosquitto_publish_callback_set(d->mosq, on_publish);
	mosquitto_message_callback_set(d->mosq, on_message);
	return 0;
}

int main(int argc, char **argv)
{
	static struct device dev; /* static: no large stack frame, no heap */
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_options(argc, argv, &dev.opt) != 0) {
		usage(stderr);
		return 2;
	}
	if (dev.opt.selftest)
		return selftest(dev.opt.golden_dir, dev.opt.mutations) == 0 ? 0 : 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	srand((unsigned)getpid() ^ (unsigned)mono_ms());
	mosquitto_lib_init();
	rc = setup(&dev) == 0 ? run(&dev) : 1;
	if (dev.mosq != NULL)
		mosquitto_destroy(dev.mosq);
	mosquitto_lib_cleanup();
	return rc;
}
