#!/usr/bin/env bash
# `make demo`: two demo backend pools (an "old" and a "new" application version, two members
# each) and Switchyard in front of them on loopback, one listener per pool. Sends requests with
# curl and shows who answered, the headers the backend saw, a streamed upload, what a dead
# member looks like, and the access log. Everything runs under var/demo and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${SY_BUILD_DIR:-build}
bin=$root/$build_dir/proxy/switchyard
dir=$root/var/demo
rm -rf "$dir" && mkdir -p "$dir"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_file() {  # wait_file PATH: until PATH exists and ends with a newline
  for _ in $(seq 100); do
    [[ -s $1 && $(tail -c1 "$1" | od -An -c | tr -d ' ') == '\n' ]] && return 0
    sleep 0.1
  done
  echo "demo: $1 did not appear" >&2
  exit 1
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting backends: pool old (v7.10) and pool new (v8.0), two members each"
declare -A port
for b in old-1:7.10 old-2:7.10 new-1:8.0 new-2:8.0; do
  name=${b%%:*} version=${b#*:}
  python3 tests/backend/backend.py --port 0 --name "$name" --version "$version" \
    --ready-file "$dir/$name.ready" >"$dir/$name.log" 2>&1 &
  pids+=($!)
done
for name in old-1 old-2 new-1 new-2; do
  wait_file "$dir/$name.ready"
  port[$name]=$(sed -n 's/^port=//p' "$dir/$name.ready")
  echo "  $name on 127.0.0.1:${port[$name]}"
done

cat >"$dir/switchyard.yaml" <<EOF
workers: 2
listeners:
  - name: old
    port: 0
    pool: old
  - name: new
    port: 0
    pool: new
pools:
  - name: old
    version: "7.10"
    members:
      - address: "127.0.0.1:${port[old-1]}"
      - address: "127.0.0.1:${port[old-2]}"
    health_check: {path: /health, interval: 500ms, timeout: 400ms, rise: 2, fall: 2}
  - name: new
    version: "8.0"
    balance: least_conn
    members:
      - address: "127.0.0.1:${port[new-1]}"
        weight: 2
      - address: "127.0.0.1:${port[new-2]}"
    health_check: {path: /health, interval: 500ms, timeout: 400ms, rise: 2, fall: 2}
access_log:
  path: "$dir/access.log"
EOF

say "checking the configuration: $bin --check-config"
"$bin" --check-config "$dir/switchyard.yaml"

say "starting switchyard"
"$bin" --config "$dir/switchyard.yaml" --ready-file "$dir/switchyard.ready" \
  >"$dir/switchyard.log" 2>&1 &
sy_pid=$!
pids+=($sy_pid)
wait_file "$dir/switchyard.ready"
old=$(sed -n 's/^listener.old=//p' "$dir/switchyard.ready")
new=$(sed -n 's/^listener.new=//p' "$dir/switchyard.ready")
echo "  listener old -> pool old on http://$old/"
echo "  listener new -> pool new on http://$new/"

say "six requests to each listener (round robin on old, weighted least-conn on new)"
for l in old new; do
  addr=$old; [[ $l == new ]] && addr=$new
  printf '  %-4s:' "$l"
  for _ in 1 2 3 4 5 6; do printf ' [%s]' "$(curl -sS "http://$addr/")"; done
  echo
done | sed 's/\n//g'

say "what the backend sees (forwarding headers added, hop-by-hop removed)"
curl -sS -H 'Connection: X-Private' -H 'X-Private: dropped' "http://$old/headers"
echo

say "a 64 MiB upload streamed through and checksummed by the backend"
head -c $((64 << 20)) /dev/urandom >"$dir/upload.bin"
echo "  local:   $(sha256sum "$dir/upload.bin" | cut -c1-64)"
echo "  backend: $(curl -sS --data-binary @"$dir/upload.bin" "http://$new/upload")"
rm -f "$dir/upload.bin"

say "member old-1 fails its health check: traffic moves to old-2"
curl -sS "http://127.0.0.1:${port[old-1]}/control/down" >/dev/null
sleep 1.5
printf '  old :'; for _ in 1 2 3 4; do printf ' [%s]' "$(curl -sS "http://$old/")"; done; echo
curl -sS "http://127.0.0.1:${port[old-1]}/control/up" >/dev/null

say "member old-2 dies: connect fails are retried on another member; a dead pool is a 502"
kill "${pids[1]}"
printf '  old :'; for _ in 1 2 3; do printf ' [%s]' "$(curl -sS "http://$old/")"; done; echo
kill "${pids[0]}"
sleep 0.2
curl -sS -w '  -> HTTP %{http_code}\n' "http://$old/" | sed 's/^/  /'

say "graceful shutdown (SIGTERM)"
kill -TERM "$sy_pid"
wait "$sy_pid" && echo "  switchyard exited 0"
tail -n 2 "$dir/switchyard.log" | sed 's/^/  /'

say "the last access-log lines (JSON, one per request)"
tail -n 4 "$dir/access.log"
echo
echo "demo done; files are in $dir"
