#!/usr/bin/env bash
# Build a mosquitto image with no registry: Debian's mosquitto binary and the
# shared libraries it links, on an empty (scratch) base.
#
#   bash docker/offline/build.sh [TAG]        (default tag: kata-mosquitto:offline)
#
# Needs the `mosquitto` package installed on this machine and a running
# Docker engine. The tests use it through KATA_MOSQUITTO_IMAGE=<TAG>.
set -euo pipefail

tag="${1:-kata-mosquitto:offline}"
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(command -v mosquitto || true)"
[ -n "$binary" ] || binary=/usr/sbin/mosquitto
[ -x "$binary" ] || { echo "build.sh: mosquitto is not installed (apt-get install mosquitto)" >&2; exit 2; }

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
mkdir -p "$root/usr/sbin" "$root/etc" "$root/tmp" "$root/mosquitto/config" "$root/mosquitto/data"
cp -L "$binary" "$root/usr/sbin/mosquitto"

# Every library the binary loads, and the loader itself, at the same paths.
ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# mosquitto looks up the user named in `user` (the kata's config says root).
printf 'root:x:0:0:root:/root:/sbin/nologin\nmosquitto:x:1883:1883:mosquitto:/mosquitto:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nmosquitto:x:1883:\n' > "$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"

cp "$here/Dockerfile" "$context/Dockerfile"
docker build --quiet -t "$tag" "$context"
echo "built $tag from $("$binary" -h | head -n 1)"
