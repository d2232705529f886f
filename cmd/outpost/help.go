package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"

	"github.com/outpost-iot/outpost/broker"
)

// buildVersion is set at link time: -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			return "devel-" + rev + dirty
		}
	}
	return "devel"
}

func runVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "outpost %s (%s, %s/%s, mochi-mqtt %s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, broker.MochiVersion)
	return err
}

// commandHelp is each subcommand's description with examples.
var commandHelp = map[string]string{
	"serve": `Run the gateway: the MQTT broker (default 127.0.0.1:1883), the HTTP port
(default 127.0.0.1:8080: /agents/..., /mqtt, /v1/..., /metrics, /healthz,
/admin/...), the agents and, with --model or --inference-url, the inference
API. This is also what 'outpost' with no command does. Every flag is also an
OUTPOST_* variable and a key of the --config file. SIGHUP reloads credentials
and certificates; SIGINT or SIGTERM shuts down cleanly (a second one forces
exit).

examples:
  outpost                                      # loopback only, anyone may connect
  outpost serve --data-dir /var/lib/outpost --log-format json
  outpost serve --listen 0.0.0.0 --credentials /etc/outpost/credentials.yaml
  outpost serve --listen 0.0.0.0 --allow-anonymous   # deliberately open to the network
  outpost serve --tls-cert gw.crt --tls-key gw.key --credentials creds.yaml
  OUTPOST_MQTT_PORT=1884 outpost serve --config outpost.yaml
  outpost serve --model models/tinyllama-1.1b.gguf      # local engine at /v1
  outpost serve --inference-url http://gpu-box:8000/v1  # /v1 from vLLM, llama.cpp or Ollama`,
	"config": `Print the effective configuration (defaults, then --config file, then OUTPOST_*
variables, then flags) as a commented YAML file that --config accepts.

examples:
  outpost config
  outpost config --listen 0.0.0.0 --allow-anonymous > outpost.yaml
  OUTPOST_DATA_DIR=/srv/outpost outpost config --config outpost.yaml`,
	"passwd": `Maintain the credentials file: users with bcrypt password hashes, API tokens
(stored as SHA-256 digests) and access rules. A running gateway rereads it on
SIGHUP or POST /admin/reload.

  outpost passwd add USER [--admin] [--agent PATTERN]... [--topic FILTER[:ACCESS]]... [--password-stdin]
  outpost passwd remove USER
  outpost passwd token USER [--name LABEL]
  outpost passwd list

examples:
  outpost passwd add ops --admin --credentials creds.yaml          # asks for the password
  echo s3cret | outpost passwd add sensor-7 --password-stdin --agent 'twin/%u' --credentials creds.yaml
  outpost passwd add dash --topic 'sensors/#:read' --credentials creds.yaml
  outpost passwd token ops --name grafana --credentials creds.yaml  # prints the token once
  outpost passwd remove sensor-7 --credentials creds.yaml`,
	"agents": `List, inspect and destroy the agents of a running gateway through its
admin API (an admin user's password or API token is needed when the gateway
has a credentials file).

  outpost agents list [--json]
  outpost agents inspect CLASS/NAME
  outpost agents destroy CLASS/NAME

examples:
  outpost agents list
  outpost agents inspect twin/device-1 --gateway http://gw.local:8080 --token "$OUTPOST_TOKEN"
  echo s3cret | outpost agents destroy echo/test --user ops --password-stdin`,
	"detect": `Print what the inference engine sees on this machine: CPU model, cores and
SIMD features (AVX2, AVX-512, NEON, ...), memory, GPUs (vendor, model, memory,
driver; NVIDIA details through NVML when the driver is installed) and the plan
the engine would use. It never fails for what it cannot see; it lists it under
Problems.

examples:
  outpost detect
  outpost detect --json | jq .gpu`,
	"model": `Write a random-weight model for tests and benchmarks (no model hub is
needed): a llama-architecture GGUF of a named shape with a printable
vocabulary and a ChatML chat template. The API's model id is the file name
without .gguf.

  outpost model synth [--shape tiny|tinyllama-1.1b] [--quant f32|f16|q8_0|q4_k|q4_k_m] [--seed N] OUT.gguf

examples:
  outpost model synth --shape tiny --quant q8_0 tiny.gguf
  outpost model synth --shape tinyllama-1.1b --quant q8_0 models/tinyllama-1.1b.gguf
  outpost model synth --shape tinyllama-1.1b --quant q4_k models/tinyllama-1.1b-q4_k.gguf

q4_k writes llama.cpp's Q4_K (as its Q4_K_S files) for matrices whose rows are
a multiple of 256 and Q8_0 for the others. q4_k_m is llama.cpp's Q4_K_M mix,
the form most published models ship in: q4_k with the output matrix, and
attn_v and ffn_down on some layers, in Q6_K.`,
	"sim": `Run a fleet of simulated devices against a gateway, for load: each device is
its own MQTT 5 connection to the device twin agents/twin/PREFIXi, acknowledges
its desired configuration, publishes CBOR telemetry at QoS 1 (temperature and
humidity random walks, now and then a door event) --rate times a second, and
calls the twin's latest() every --rpc-every frames. Lost connections are
retried with backoff. At the end it reports the frames sent and delivered
(PUBACKed: the twin stored them), the errors, and latency percentiles of
publish -> PUBACK and of the rpc round trip; it exits 1 if there were errors.
On a gateway with credentials every device logs in as --user, which needs
the twins, e.g. outpost passwd add sim --agent 'twin/sim-*'.

examples:
  outpost sim --devices 100 --rate 2 --duration 1m --progress
  outpost sim --url tcp://gw.local:1883 --user sim --password s3cret --devices 1000 --rate 0.2
  outpost sim --devices 10 --messages 100 --json | jq .publish_latency`,
	"version": `Print the version, the Go version and the platform.

example:
  outpost version`,
	"help": `Show help for a command.

example:
  outpost help passwd`,
}

var commandSummary = map[string]string{
	"serve":   "run the gateway (the default command)",
	"config":  "print the effective configuration as YAML",
	"passwd":  "add and remove users and API tokens in the credentials file",
	"agents":  "list, inspect and destroy agents of a running gateway",
	"detect":  "print the hardware the inference engine sees and its plan",
	"model":   "write a random-weight test model (model synth)",
	"sim":     "run simulated twin devices against a gateway and report latency",
	"version": "print the version",
	"help":    "show help for a command",
}

func runHelp(args []string, w io.Writer) error {
	if len(args) > 0 {
		h, ok := commandHelp[args[0]]
		if !ok {
			return usageError{fmt.Errorf("help: unknown command %q", args[0])}
		}
		fmt.Fprintf(w, "outpost %s\n\n%s\n", args[0], h)
		if args[0] == "serve" || args[0] == "config" {
			fs := newFlagSet(args[0], w)
			configFlags(fs)
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
		return nil
	}
	fmt.Fprint(w, `Outpost: one binary for edge gateways. An embedded MQTT broker and HTTP
port in front of stateful agents.

usage: outpost [command] [flags]

commands:
`)
	names := make([]string, 0, len(commandSummary))
	for n := range commandSummary {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commandSummary[n])
	}
	fmt.Fprint(w, `
examples:
  outpost                              # run on 127.0.0.1 (MQTT 1883, HTTP 8080)
  outpost help serve                   # every flag of the gateway
  outpost passwd add ops --admin --credentials creds.yaml

Run 'outpost help COMMAND' for the examples of each command.
`)
	return nil
}
