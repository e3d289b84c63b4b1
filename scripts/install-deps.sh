#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what sockit needs from Debian, when run as root with apt.
#   install-deps.sh build   the compiler toolchain, cmake, pkg-config and the
#                           libraries libsockit links (OpenSSL 3, zlib)
#   install-deps.sh test    the third-party peers the tests use (TLS: openssl,
#                           gnutls-bin, haproxy, stunnel4; time: chrony; STAMP:
#                           python3-scapy; bench: HdrHistogram's Java tools,
#                           rsvg-convert)
# openbsd-inetd is not in the list: Debian lets one inet-superserver in, and
# installing it removes xinetd (which the benchmarks and the client interop
# tests use); tests/interop/test_inetd.py runs under whichever is there.
# Without root or apt it installs nothing and says so; the tests that need a
# missing program then report themselves skipped with the reason.
set -u
what=${1:-test}
case "$what" in
  build) pkgs="build-essential cmake python3 pkg-config libssl-dev zlib1g-dev" ;;
  test)  pkgs="python3 rdate socat xinetd netcat-openbsd libuv1-dev iperf3 strace clang libclang-rt-14-dev lintian debhelper dpkg-dev haproxy prometheus chrony openssl gnutls-bin stunnel4 python3-scapy libhdrhistogram-java default-jre-headless librsvg2-bin nettle-dev" ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-deps: not root or no apt-get; not installing:$missing" >&2
  exit 0
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' maintainer scripts from starting their daemons (xinetd,
# haproxy, prometheus, chrony: a time daemon must never get to touch this
# machine's clock): a policy-rc.d that refuses every start, only while we
# install, and only when the machine has none of its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# install-deps.sh: no daemon starts while it installs\nexit 101\n' >"$policy" &&
    chmod 755 "$policy" && trap 'rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2086
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
    echo "install-deps: apt-get could not install:$missing (tests needing them will skip)" >&2
fi
# xinetd's (or openbsd-inetd's) package starts a system daemon; the tests
# run their own instances, on loopback ports.
if [ -x /etc/init.d/xinetd ]; then /etc/init.d/xinetd stop >/dev/null 2>&1 || true; fi
if [ -x /etc/init.d/openbsd-inetd ]; then /etc/init.d/openbsd-inetd stop >/dev/null 2>&1 || true; fi
# So does chrony's: the tests need only its binary (chronyd -Q / -x on
# loopback ports, never touching the clock).  Stop the daemon only when this
# run installed it, so a machine's own time service is left alone.
case " $missing " in
  *" chrony "*)
    if command -v systemctl >/dev/null && systemctl is-active -q chrony 2>/dev/null; then
      systemctl stop chrony >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/chrony ]; then
      /etc/init.d/chrony stop >/dev/null 2>&1 || true
    fi ;;
esac
exit 0
