#!/usr/bin/env bash
# Installs the Debian packages Switchyard needs to build, test, demo and benchmark.
# This is the one list of packages. Root: installs what is missing with apt-get.
# Not root: prints the exact command to run and exits 1.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  libevent-dev libssl-dev libnghttp2-dev libyaml-cpp-dev libmysqlcppconn-dev catch2
  # fuzzing (libFuzzer ships with clang's runtime)
  clang libclang-rt-14-dev
  # database: the private MariaDB started by tests/scripts/mariadb.sh
  mariadb-server mariadb-client
  # the MariaDB C API beneath Connector/C++: the directory's bulk read (store/bulk_session.h)
  libmariadb-dev
  # tests, demo and benchmarks: real clients, real peers
  curl python3 openssl nghttp2-client nghttp2-proxy nghttp2-server wrk haproxy nginx-light procps
  # HTTP/2 to members: a real gRPC client and server through the proxy (tests/integration)
  python3-grpcio
  # the bench report is checked in headless Chromium (tests/integration/test_bench_harness.py)
  chromium
  # packaging (make package, tests/integration/test_package.py): CPack DEB with dpkg-shlibdeps,
  # systemd-analyze verify of the unit, man pages rendered with man/groff, logrotate -d
  dpkg-dev file systemd man-db groff-base logrotate
  # /metrics is read with the real Prometheus text parser (tests/integration/metricsrun.py)
  python3-prometheus-client
  # raw HTTP/2 tests decode the proxy's HPACK with it (tests/integration/h2raw.py)
  python3-hpack
  # WebSocket tunnel tests: a real client and echo server (tests/integration/wsecho.py)
  python3-websockets
  # WebSocket over HTTP/2 tests: the HTTP/2 side of the extended CONNECT client (tests/integration/h2ws.py)
  python3-h2
  # the 3-node Galera cluster of tests/scripts/galera.sh (state transfer by rsync)
  galera-4 rsync
  # host-name members: a DNS server on loopback the tests control (test_live_pools_dns.py)
  dnsmasq-base
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's packaging starts services it installs when a service manager is running; ours are
# started by the project's own scripts on private ports, so keep the system ones down.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.switchyard
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  cp /usr/sbin/policy-rc.d.switchyard /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
rm -f /usr/sbin/policy-rc.d.switchyard
$cmd
