#!/usr/bin/env bash
# `make demo`, in two parts, everything on loopback under var/ and stopped on exit:
#  1. the core proxy: two backend pools (an "old" and a "new" application version) behind one
#     Switchyard; who answered, the headers the backend saw, a streamed upload, failover, a 502.
#  2. tenant routing on the private MariaDB: an old-role and a new-role Switchyard; a schema is
#     disabled while a client waits (held), moved to the new server and enabled: the held
#     request is answered by the new pool, and the old instance now redirects that tenant.
#  3. a whole `upgrade schemata` over 20 schemas / 2,000 tenants through switchyardctl while a
#     client sends requests to every tenant; prints the failed requests (zero) and the times.
#  4. the same procedure on an Open-Xchange configdb left as OX made it (profile ox): OX logins,
#     OX's error envelope, each Switchyard step next to the OX command it stands for, and the
#     configdb rows afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${SY_BUILD_DIR:-build}
bin=$root/$build_dir/proxy/switchyard
dir=$root/var/demo
rm -rf "$dir" && mkdir -p "$dir"

pids=()
db_started=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $db_started -eq 1 ]]; then
    bash tests/scripts/mariadb.sh stop >/dev/null || true
  fi
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

start_switchyard() {  # start_switchyard CONFIG READY LOG: in the background, until it is ready
  "$bin" --config "$1" --ready-file "$2" >"$3" 2>&1 &
  pids+=($!)
  wait_file "$2"
}

load_summary() {  # load_summary WHO FILE: tenant_load.py's JSON line; fails when a request did
  python3 -c '
import json, sys
s = json.load(open(sys.argv[2]))
print("  {w} during the upgrade: {ok} requests answered, {failed} failed, "
      "{redirects_followed} redirects followed, longest request {max_request_ms} ms, "
      "answered by {answered_by}".format(w=sys.argv[1], **s))
sys.exit(1 if s["failed"] else 0)
' "$1" "$2"
}

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

# ---------------------------------------------------------------------------------------------
# Part 2: tenant routing from the private MariaDB. An old-role and a new-role Switchyard share
# one database; schema s2 is migrated while a client waits on it.
say "tenant routing: starting the private MariaDB (tests/scripts/mariadb.sh, var/mariadb-demo)"
export SY_MYSQL_DIR=$root/var/mariadb-demo
bash tests/scripts/mariadb.sh start
db_started=1
eval "$(bash tests/scripts/mariadb.sh env)"
sql() { mariadb --protocol=TCP -h "$SY_TEST_MYSQL_HOST" -P "$SY_TEST_MYSQL_PORT" \
          -u "$SY_TEST_MYSQL_USER" "-p$SY_TEST_MYSQL_PASSWORD" --batch "$@"; }
echo "DROP DATABASE IF EXISTS sy_demo; CREATE DATABASE sy_demo" | sql

# The part every tenant-routing config of the demo shares: one listener in front of SERVE_POOL,
# the old and new pools, and the private MariaDB's DATABASE refreshed every REFRESH.
pools_db_yaml() {  # pools_db_yaml SERVE_POOL DATABASE REFRESH
  cat <<EOF
workers: 2
listeners: [{name: main, port: 0, pool: $1}]
pools:
  - {name: old, version: "7.10", members: [{address: "127.0.0.1:${port[old-2]}"}], health_check: {enabled: false}}
  - {name: new, version: "8.0", members: [{address: "127.0.0.1:${port[new-1]}"}], health_check: {enabled: false}}
database:
  dsns: [{host: 127.0.0.1, port: $SY_TEST_MYSQL_PORT, user: $SY_TEST_MYSQL_USER, password: "$SY_TEST_MYSQL_PASSWORD", database: $2}]
  refresh_interval: $3
EOF
}
tenant_yaml() {  # tenant_yaml ROLE SERVE_POOL
  pools_db_yaml "$2" sy_demo 250ms
  cat <<EOF
routing:
  role: $1
  serve_pools: [$2]
  keys: [{type: header, name: X-Context-Id}, {type: login_query, name: name}]
access_log: {path: "$dir/tenant-$1-access.log"}
EOF
}
# old-2 died in part 1; bring a fresh old member up for this part.
python3 tests/backend/backend.py --port 0 --name old-2 --version 7.10 \
  --ready-file "$dir/old-2b.ready" >"$dir/old-2b.log" 2>&1 &
pids+=($!)
wait_file "$dir/old-2b.ready"
port[old-2]=$(sed -n 's/^port=//p' "$dir/old-2b.ready")

tenant_yaml old old >"$dir/tenant-old.yaml"
tenant_yaml new new >"$dir/tenant-new.yaml"
say "switchyard db migrate: Switchyard's own tables"
"$bin" db migrate --config "$dir/tenant-old.yaml"

start_switchyard "$dir/tenant-new.yaml" "$dir/tenant-new.ready" "$dir/tenant-new.log"
tnew=$(sed -n 's/^listener.main=//p' "$dir/tenant-new.ready")
say "directory: server 1 (pool old), server 2 (pool new, migration URL http://$tnew); schemas s1, s2"
sql sy_demo <<EOF
INSERT INTO sy_servers (id, name, pool, version, redirect_url) VALUES
  (1, 'app-7.10', 'old', '7.10', ''), (2, 'app-8.0', 'new', '8.0', 'http://$tnew');
INSERT INTO sy_schemas (name, state, server_id) VALUES ('s1', 'enabled', 1), ('s2', 'enabled', 1);
INSERT INTO sy_contexts (id, schema_name, enabled) VALUES (100, 's1', 1), (200, 's2', 1);
INSERT INTO sy_logins (login, context_id) VALUES ('bob@example.com', 200);
EOF
start_switchyard "$dir/tenant-old.yaml" "$dir/tenant-old.ready" "$dir/tenant-old.log"
told=$(sed -n 's/^listener.main=//p' "$dir/tenant-old.ready")
sleep 0.6
echo "  old-role switchyard http://$told/   new-role switchyard http://$tnew/"

say "context 200 (schema s2) before the migration"
echo "  old instance:                        $(curl -sS -H 'X-Context-Id: 200' "http://$told/")"
echo "  old instance, ?name=bob@example.com: $(curl -sS "http://$told/?name=bob%40example.com")"
echo "  new instance:                        $(curl -sS -H 'X-Context-Id: 200' "http://$tnew/")"

say "migrating schema s2: disable it (its requests are now held) ..."
echo "UPDATE sy_schemas SET state='disabled' WHERE name='s2'" | sql sy_demo
sleep 0.6
t0=$(date +%s%N)
(curl -sS -L -H 'X-Context-Id: 200' -w ' [HTTP %{http_code} after %{num_redirects} redirect]' \
   "http://$told/app?folder=inbox" >"$dir/held.out") &
held_pid=$!
sleep 1.5
echo "  a client asked the old instance for context 200 1.5 s ago: still waiting (held)"
echo "  ... move s2's contexts to server 2 and enable s2"
echo "UPDATE sy_schemas SET server_id=2, state='enabled' WHERE name='s2'" | sql sy_demo
wait $held_pid
t1=$(date +%s%N)
echo "  the held request was answered after $(( (t1 - t0) / 1000000 )) ms: $(tr -d '\n' <"$dir/held.out")"

say "after the migration"
curl -sS -o /dev/null -D - -H 'X-Context-Id: 200' "http://$told/app?folder=inbox" |
  grep -iE '^HTTP|^location' | tr -d '\r' | sed 's/^/  old instance, context 200: /'
echo "  new instance, context 200: $(curl -sS -H 'X-Context-Id: 200' "http://$tnew/")"
echo "  new instance, context 100 (not migrated): $(curl -sS -H 'X-Context-Id: 100' "http://$tnew/")"
echo "  old instance, context 100: $(curl -sS -H 'X-Context-Id: 100' "http://$told/")"

# ---------------------------------------------------------------------------------------------
# Part 3: a whole zero-downtime upgrade driven through switchyardctl while a client keeps
# sending requests across every tenant: 20 schemas, 2,000 contexts.
say "upgrade schemata under load: 20 schemas, 2,000 contexts, driven with switchyardctl"
ctl=$root/$build_dir/admin/switchyardctl
echo "DROP DATABASE IF EXISTS sy_demo_up; CREATE DATABASE sy_demo_up" | sql
mkdir -p "$dir/tasks"
cat >"$dir/tasks/001_new_table.sql" <<'SQL'
-- update task 001 of version 8.0: a table the new version needs
CREATE TABLE IF NOT EXISTS calendar_v8 (id INT PRIMARY KEY, note VARCHAR(64));
INSERT IGNORE INTO calendar_v8 VALUES (1, 'created by the 8.0 update task');
SQL
upgrade_yaml() {  # upgrade_yaml ROLE SERVE_POOL VERSION
  pools_db_yaml "$2" sy_demo_up 100ms
  cat <<YAML
  heartbeat_interval: 200ms
routing:
  role: $1
  instance_id: demo-$1
  version: "$3"
  serve_pools: [$2]
  hold: {max_requests: 10000, max_wait: 20s}
  keys: [{type: header, name: X-Context-Id}]
admin:
  socket: {path: "$dir/admin-$1.sock"}
  live_within: 5s
  update_tasks: {sql_dir: "$dir/tasks"}
YAML
}
upgrade_yaml old old 7.10 >"$dir/upgrade-old.yaml"
upgrade_yaml new new 8.0 >"$dir/upgrade-new.yaml"
"$bin" db migrate --config "$dir/upgrade-old.yaml" >/dev/null
{
  echo "INSERT INTO sy_servers (id, name, pool, version) VALUES (1, 'app-7.10', 'old', '7.10');"
  for i in $(seq -w 1 20); do
    echo "CREATE DATABASE IF NOT EXISTS demo_s$i;"
    echo "INSERT INTO sy_schemas (name, state, server_id) VALUES ('demo_s$i', 'enabled', 1);"
  done
  echo "INSERT INTO sy_contexts (id, schema_name, enabled) VALUES"
  for c in $(seq 1001 3000); do
    sep=','; [[ $c == 3000 ]] && sep=';'
    printf "(%d, 'demo_s%02d', 1)%s\n" "$c" $(( (c - 1001) / 100 + 1 )) "$sep"
  done
} | sql sy_demo_up
for role in new old; do
  start_switchyard "$dir/upgrade-$role.yaml" "$dir/upgrade-$role.ready" "$dir/upgrade-$role.log"
done
uold=$(sed -n 's/^listener.main=//p' "$dir/upgrade-old.ready")
unew=$(sed -n 's/^listener.main=//p' "$dir/upgrade-new.ready")
echo "  old-role switchyard http://$uold/ (admin socket $dir/admin-old.sock)"
echo "  new-role switchyard http://$unew/ (admin socket $dir/admin-new.sock)"

say "a client sends requests for all 2,000 tenants to the old instance (and follows 307s)"
python3 tests/tools/tenant_load.py "http://$uold/" 1001-3000 --threads 6 \
  --until-file "$dir/load.stop" >"$dir/load.json" &
load_pid=$!
sleep 1

run_ctl() { echo "  \$ switchyardctl $*"; "$ctl" -s "$dir/admin-old.sock" "$@" | sed 's/^/    /'; }
say "register the new server and walk the cluster to RUNNING_UPGRADE_TASKS"
# `cluster mixed` needs a live new-role instance: wait for its first heartbeat (at most ~1 s).
for _ in $(seq 100); do
  "$ctl" -s "$dir/admin-old.sock" --json show instances | grep -q '"role": *"new"' && break
  sleep 0.1
done
run_ctl server register app-8.0 --pool new --version 8.0 --redirect-url "http://$unew"
run_ctl cluster prepare app-8.0
run_ctl cluster mixed
run_ctl cluster ready --keep-old-role   # the old-role instance keeps redirecting moved tenants
run_ctl cluster approve

say "upgrade schemata: per schema disable -> drain -> move -> update tasks -> enable -> verify"
t0=$(date +%s%N)
run_ctl upgrade schemata --server app-8.0 --continue
t1=$(date +%s%N)
sleep 1
touch "$dir/load.stop"
wait "$load_pid" || true
run_ctl cluster status
{ run_ctl schema list || true; } | head -n 6
echo "  upgrade took $(( (t1 - t0) / 1000000 )) ms for 20 schemas ($(( (t1 - t0) / 20000000 )) ms per schema)"
load_summary "the client" "$dir/load.json"

# ---------------------------------------------------------------------------------------------
# Part 4: the Open-Xchange procedure on an unchanged OX configdb (profile ox). Switchyard's state
# lives in a database of its own (sy_demo_state); the configdb keeps only OX's tables.
say "Open-Xchange: a configdb as OX's tools fill it (3 servers, 6 schemas, 300 contexts)"
echo "DROP DATABASE IF EXISTS configdb_demo; CREATE DATABASE configdb_demo;
      DROP DATABASE IF EXISTS sy_demo_state; CREATE DATABASE sy_demo_state" | sql
python3 tests/tools/ox_configdb.py --servers oxserver-1,oxserver-2,oxserver-3 \
  --schemas oxdatabase_3,oxdatabase_5,oxdatabase_10,oxdatabase_44,oxdatabase_81,oxdatabase_100 \
  --contexts 300 | sql configdb_demo
mkdir -p "$dir/ox"
cat >"$dir/ox/runupdate" <<'SH'
#!/bin/sh
# stands in for /opt/open-xchange/sbin/runupdate -n SCHEMA
while getopts n: opt; do case $opt in n) schema=$OPTARG ;; esac; done
echo "update tasks of schema $schema: done"
SH
chmod +x "$dir/ox/runupdate"
ox_yaml() {  # ox_yaml ROLE SERVE_POOL VERSION
  pools_db_yaml "$2" configdb_demo 100ms
  cat <<YAML
  heartbeat_interval: 200ms
  profile: ox
  state_database: sy_demo_state
  servers:
    - {name: oxserver-1, pool: old, version: "7.10"}
    - {name: oxserver-2, pool: old, version: "7.10"}
    - {name: oxserver-3, pool: old, version: "7.10"}
routing:
  role: $1
  instance_id: demo-ox-$1
  version: "$3"
  serve_pools: [$2]
  hold: {max_requests: 10000, max_wait: 20s}
  keys: [{type: login_form, name: name}, {type: cookie, name: ox_ctx}]
admin:
  socket: {path: "$dir/ox/admin-$1.sock"}
  live_within: 5s
  update_tasks: {command: "$dir/ox/runupdate -n {schema}", command_timeout: 5m}
YAML
}
ox_yaml old old 7.10 >"$dir/ox/old.yaml"
ox_yaml new new 8.0 >"$dir/ox/new.yaml"
say "switchyard db migrate: the state database only; the configdb is checked, never changed"
"$bin" db migrate --config "$dir/ox/old.yaml" | sed 's/^/  /'
for role in new old; do
  start_switchyard "$dir/ox/$role.yaml" "$dir/ox/$role.ready" "$dir/ox/$role.log"
done
xold=$(sed -n 's/^listener.main=//p' "$dir/ox/old.ready")
xnew=$(sed -n 's/^listener.main=//p' "$dir/ox/new.ready")
oxctl() { "$ctl" -s "$dir/ox/admin-old.sock" "$@"; }
say "OX logins resolve as OX resolves them (the part after the last '@', any case; no '@' = defaultcontext)"
for name in user@ctx5.example.com USER@CTX5.EXAMPLE.COM admin; do
  printf '  name=%-24s -> %s\n' "$name" \
    "$(curl -sS -d "name=$name&password=x" "http://$xold/ajax/login?action=login")"
done
echo "  the new-version node, asked for a context still on an old server (OX's own error):"
curl -sS -w '  [HTTP %{http_code}]\n' -d "name=user@ctx5.example.com&password=x" \
  "http://$xnew/ajax/login?action=login" | sed 's/^/    /'

say "OX clients log in (form) and use their sessions (cookie) across all 300 tenants"
python3 tests/tools/tenant_load.py "http://$xold/" 1-300 --ox --threads 4 \
  --until-file "$dir/ox/load.stop" >"$dir/ox/load.json" &
ox_load=$!
sleep 1
step() { printf '\n  %-44s | %s\n' "OX: $1" "Switchyard: switchyardctl $2"; }
for _ in $(seq 100); do oxctl --json show instances | grep -q '"role": *"new"' && break; sleep 0.1; done
step "registerserver -n oxserver-8" "server register oxserver-8 --pool new ..."
oxctl server register oxserver-8 --pool new --version 8.0 --redirect-url "http://$xnew" | sed 's/^/    /'
step "(start the 8.0 node; mixed cluster)" "cluster prepare oxserver-8; mixed; ready; approve"
for c in "prepare oxserver-8" mixed "ready --keep-old-role" approve; do oxctl cluster $c >/dev/null; done
step "per schema: disableschema, changeserver," "upgrade schemata --server oxserver-8 --continue"
printf '  %-44s |   (in OX order: _3 _5 _10 _44 _81 _100; held, not refused)\n' \
  "  runupdate -n S, enableschema"
t0=$(date +%s%N)
oxctl upgrade schemata --server oxserver-8 --continue | grep ' update done' | sed 's/^/    /'
t1=$(date +%s%N)
sleep 1
touch "$dir/ox/load.stop"
wait "$ox_load" || true
echo "  upgrade took $(( (t1 - t0) / 1000000 )) ms for 6 schemas"
load_summary "OX clients" "$dir/ox/load.json"
say "the configdb afterwards: OX's rows as OX's own commands leave them, and no table of ours"
sql configdb_demo -e "SELECT * FROM server; SELECT id AS configdb_sequence FROM configdb_sequence;
  SELECT db_schema, server_id, COUNT(*) AS contexts, SUM(enabled) AS enabled
    FROM context_server2db_pool JOIN context USING (cid) GROUP BY db_schema, server_id;
  SELECT COUNT(*) AS sy_tables FROM information_schema.tables
    WHERE table_schema = 'configdb_demo' AND table_name LIKE 'sy%'" | sed 's/^/  /'

say "graceful shutdown (SIGTERM)"
kill -TERM "$sy_pid"
wait "$sy_pid" && echo "  switchyard exited 0"
tail -n 2 "$dir/switchyard.log" | sed 's/^/  /'

say "the last access-log lines (JSON, one per request)"
tail -n 4 "$dir/access.log"
echo
echo "demo done; files are in $dir"
