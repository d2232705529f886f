#!/bin/sh
# Runs the Python device example, passing the arguments through:
# firmware-examples/python/run.sh --once (from anywhere). Picks the first
# python3 that has Debian's python3-paho-mqtt and python3-cbor2 (a pyenv or
# venv python3 first on PATH may not see them); $PYTHON overrides.
dir=$(cd "$(dirname "$0")" && pwd)
for py in ${PYTHON:-} python3 /usr/bin/python3; do
	if "$py" -c 'import cbor2, paho.mqtt.client' 2>/dev/null; then
		exec "$py" -u "$dir/device.py" "$@"
	fi
done
echo "run.sh: no python3 with paho-mqtt and cbor2; apt-get install python3-paho-mqtt python3-cbor2" >&2
exit 1
