#!/usr/bin/env bash
# Installs the external programs Outpost's tests drive, when missing:
#   Debian: mosquitto, mosquitto-clients, nodejs, npm
#   npm:    mqtt.js for broker/testdata/mqttjs
# Mosquitto's Debian package starts a system service on 127.0.0.1:1883; the
# install is done with service starts disabled (policy-rc.d), and a service
# left running anyway is stopped, so port 1883 stays free for Outpost.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: missing ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "test-deps: installing ${need[*]}"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Stop a system Mosquitto if one runs (a package install elsewhere, or an
# init system that ignored policy-rc.d).
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  systemctl stop mosquitto || true
  systemctl disable mosquitto 2>/dev/null || true
fi
if [ -f /run/mosquitto/mosquitto.pid ] && pid=$(cat /run/mosquitto/mosquitto.pid) && kill -0 "$pid" 2>/dev/null; then
  kill "$pid" || true
fi

if [ ! -d broker/testdata/mqttjs/node_modules/mqtt ]; then
  echo "test-deps: installing mqtt.js"
  npm ci --prefix broker/testdata/mqttjs --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ ! -d accel/openai/testdata/openainode/node_modules/openai ]; then
  echo "test-deps: installing the openai npm client"
  npm ci --prefix accel/openai/testdata/openainode --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ ! -d cmd/outpost/testdata/agentsjs/node_modules/agents ] || [ ! -d cmd/outpost/testdata/agentsjs/node_modules/@cloudflare/ai-chat ]; then
  echo "test-deps: installing the agents npm client"
  # The agents package declares many optional integrations (React, AI SDK,
  # MCP, ...) as peers; the client needs none of them.
  npm ci --prefix cmd/outpost/testdata/agentsjs --legacy-peer-deps --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ ! -d firmware-examples/js/node_modules/mqtt ] || [ ! -d firmware-examples/js/node_modules/cbor2 ]; then
  echo "test-deps: installing the JS firmware example's packages (mqtt.js, cbor2)"
  npm ci --prefix firmware-examples/js --no-audit --no-fund --loglevel=error >/dev/null
fi

# The C and Python firmware examples (firmware-examples/c, /python): gcc,
# make, pkg-config, libmosquitto and libcbor headers, python3 with Debian's
# paho-mqtt and cbor2. Installed as above: non-interactively, with service
# starts disabled (policy-rc.d) for the time of the install.
fw_need=()
for pkg in gcc make pkg-config libmosquitto-dev libcbor-dev python3 python3-paho-mqtt python3-cbor2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || fw_need+=("$pkg")
done
if [ ${#fw_need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: missing ${fw_need[*]}; run as root or install them: apt-get install ${fw_need[*]}" >&2
    exit 1
  fi
  echo "test-deps: installing ${fw_need[*]}"
  fw_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    fw_policy=1
  fi
  trap '[ "${created_policy:-0}" = 1 ] || [ "${fw_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${fw_need[@]}" >/dev/null
  if [ $fw_policy = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    fw_policy=0
  fi
fi

# The arm64 (NEON) inference kernels' tests run under qemu-user on amd64
# machines (accel/cpu TestNEONKernelsUnderQemu): Debian's qemu-user-static,
# and binfmt-support so arm64 binaries can also run directly where the
# kernel allows it. Installed as above.
if [ "$(uname -m)" = x86_64 ]; then
  qemu_need=()
  for pkg in qemu-user-static binfmt-support; do
    dpkg -s "$pkg" >/dev/null 2>&1 || qemu_need+=("$pkg")
  done
  if [ ${#qemu_need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "test-deps: missing ${qemu_need[*]}; run as root or install them: apt-get install ${qemu_need[*]}" >&2
      exit 1
    fi
    echo "test-deps: installing ${qemu_need[*]}"
    qemu_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      qemu_policy=1
    fi
    trap '[ "${created_policy:-0}" = 1 ] || [ "${fw_policy:-0}" = 1 ] || [ "${qemu_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${qemu_need[@]}" >/dev/null
    if [ $qemu_policy = 1 ]; then
      rm -f /usr/sbin/policy-rc.d
      qemu_policy=0
    fi
  fi
fi
