#!/bin/sh
# Installs the Debian packages ceon needs to build and test, only those
# missing. Run as root (or with sudo available). Used by `make run`/`make test`.
set -eu
build="meson ninja-build pkg-config gcc g++ libc6-dev libssl-dev libcurl4-openssl-dev libjansson-dev
 libuv1-dev liburcu-dev liblmdb-dev libknot-dev capnproto libcapnp-dev libcmocka-dev libsystemd-dev scdoc"
peers="knot knot-dnsutils bind9 bind9-dnsutils nsd dnsperf clang libclang-rt-14-dev pebble lego openssl procps python3 systemd"
want="$build"
[ "${1:-}" = "--test" ] && want="$build $peers"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
