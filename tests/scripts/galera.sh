#!/usr/bin/env bash
# A private 3-node MariaDB Galera cluster on loopback for tests: three mariadbd processes, each
# with its own data directory, unix socket, client port, group-communication port, IST port and
# SST port, all under one private directory. Never reads /etc/mysql (--no-defaults) and never
# touches a system server.
#
#   tests/scripts/galera.sh start    initialise on first use, bootstrap node 1 with
#                                    --wsrep-new-cluster, join nodes 2 and 3 (state transfer
#                                    by rsync), wait until all three are Synced in one primary
#                                    component of size 3, create the switchyard user and
#                                    databases; ok if already running
#   tests/scripts/galera.sh stop     clean shutdown of the three nodes (3, 2, then 1)
#   tests/scripts/galera.sh status   exit 0 and print a line if all three are Synced
#   tests/scripts/galera.sh env      print SY_TEST_GALERA_* shell assignments (eval them):
#                                    PORTS (comma separated, node 1 first), USER, PASSWORD
#   tests/scripts/galera.sh check    exit 0 when the packages are installed, else print why
#   tests/scripts/galera.sh start-if-installed   start, or say why not and exit 0 (ctest)
#   tests/scripts/galera.sh kill-node N     kill -9 node N's mariadbd and wait until it is gone
#                                    (the fault tests; the other two stay a primary component)
#   tests/scripts/galera.sh restart-node N  start node N again (it rejoins the running cluster
#                                    by IST or SST) and wait until all three are Synced in one
#                                    primary component of size 3; ok if it runs already
#
# Environment:
#   SY_GALERA_DIR            the private directory (default <repo>/var/galera, or
#                            /tmp/switchyard-galera-<hash> when the checkout's path is not
#                            traversable by others: the nodes run as mysql)
#   SY_GALERA_START_TIMEOUT  seconds to wait for each node (default 120)
#
# The data directories belong to the `mysql` user and the nodes run as it: the rsync SST runs
# as the server's user and must be able to write the joiner's data directory (as root, mariadbd
# would need --user=root and the SST scripts refuse some of it). Node n has a pid file, socket,
# error log and data directory under $SY_GALERA_DIR/n<n>/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
# The nodes run as `mysql`, which must reach the data directories: a checkout under a private
# directory (`mktemp -d` makes them mode 0700, as a clean-clone CI run does) cannot hold them,
# so then they live in a directory of their own under /tmp, named after the checkout.
default_dir() {
  local d=$repo
  while [[ $d != / ]]; do
    if [[ -e $d && $(stat -c %A "$d" | cut -c10) != [xt] ]]; then
      echo "/tmp/switchyard-galera-$(printf %s "$repo" | md5sum | cut -c1-12)"
      return
    fi
    d=$(dirname "$d")
  done
  echo "$repo/var/galera"
}
dir=${SY_GALERA_DIR:-$(default_dir)}
start_timeout=${SY_GALERA_START_TIMEOUT:-120}
provider=${SY_GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
user=switchyard
password=switchyard
nodes=(1 2 3)

die() {
  echo "galera.sh: $*" >&2
  exit 1
}

node_dir() { echo "$dir/n$1"; }
sock() { echo "$(node_dir "$1")/mysqld.sock"; }
pidfile() { echo "$(node_dir "$1")/mysqld.pid"; }
errlog() { echo "$(node_dir "$1")/error.log"; }
# Four ports per node, chosen once and remembered (pick_port): client, gcomm, IST, SST.
port() { sed -n "$2p" "$(node_dir "$1")/ports"; }

log_tail() {
  local f
  f=$(errlog "$1")
  if [[ -f $f ]]; then
    echo "---- last lines of $f ----" >&2
    tail -n 40 "$f" >&2
    echo "----" >&2
  fi
}

server_pid() {
  local pid f
  f=$(pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

client() {  # client N ARGS...: mariadb as root over node N's socket
  local n=$1
  shift
  mariadb --no-defaults --socket="$(sock "$n")" --user=root --batch --skip-column-names \
    --connect-timeout=2 "$@"
}

synced() {  # synced N: node N answers, is Synced and in a primary component of 3
  local out
  out=$(client "$1" -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE
    VARIABLE_NAME IN ('wsrep_local_state_comment','wsrep_cluster_size','wsrep_cluster_status')
    ORDER BY VARIABLE_NAME" 2>/dev/null) || return 1
  # cluster_size, cluster_status, local_state_comment (ordered by name)
  [[ $(echo "$out" | tr '\n' ' ') == "3 Primary Synced " ]]
}

check_packages() {
  command -v mariadbd >/dev/null || {
    echo "mariadb-server is not installed (no mariadbd)"
    return 1
  }
  [[ -e $provider ]] || {
    echo "galera-4 is not installed (no $provider)"
    return 1
  }
  command -v rsync >/dev/null || {
    echo "rsync is not installed (the state transfer method wsrep_sst_method=rsync needs it)"
    return 1
  }
  id mysql >/dev/null 2>&1 || {
    echo "there is no mysql user to own the data directories"
    return 1
  }
}

pick_port() {
  # Below the kernel's ephemeral range: a port bound only now and then (IST and SST while a
  # node joins, every port of a node that is down for a restart) must not be handed out
  # meanwhile to a process that binds port 0 or connects out (each test starts several), or
  # the node cannot listen on it again ("Address already in use", then neither SST nor IST).
  python3 - <<'PY'
import random, socket
lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
candidates = list(range(10000, lo)) if lo > 11000 else list(range(hi + 1, 65536))
random.shuffle(candidates)
for port in candidates:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PY
}

init_node() {
  local n=$1 d
  d=$(node_dir "$n")
  mkdir -p "$d"
  if [[ ! -s $d/ports ]]; then
    for _ in 1 2 3 4; do pick_port; done >"$d/ports"
  fi
  if [[ ! -d $d/data/mysql ]]; then
    rm -rf "$d/data"
    mkdir -p "$d/data"
    chown -R mysql:mysql "$d"
    if ! mariadb-install-db --no-defaults --datadir="$d/data" --user=mysql \
        --auth-root-authentication-method=normal --skip-test-db >"$d/install.log" 2>&1; then
      tail -n 30 "$d/install.log" >&2
      die "mariadb-install-db failed for node $n (full output in $d/install.log)"
    fi
  fi
  chown -R mysql:mysql "$d"
}

cluster_address() {
  local n addrs=()
  for n in "${nodes[@]}"; do
    addrs+=("127.0.0.1:$(port "$n" 2)")
  done
  local IFS=,
  echo "gcomm://${addrs[*]}"
}

start_node() {  # start_node N [--wsrep-new-cluster]
  local n=$1 d
  shift
  d=$(node_dir "$n")
  rm -f "$(sock "$n")" "$(pidfile "$n")"
  : >>"$(errlog "$n")"
  chown mysql:mysql "$(errlog "$n")"
  echo "galera.sh: starting node $n on 127.0.0.1:$(port "$n" 1) $*" >&2
  # The gcomm listener and the provider options bind to loopback only; gmcast.listen_addr and
  # ist.recv_addr name this node's ports, sst via wsrep_sst_receive_address.
  setsid mariadbd --no-defaults --user=mysql --datadir="$d/data" --socket="$(sock "$n")" \
    --port="$(port "$n" 1)" --bind-address=127.0.0.1 --pid-file="$(pidfile "$n")" \
    --log-error="$(errlog "$n")" --skip-name-resolve --skip-log-bin \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=300 \
    --binlog-format=ROW --default-storage-engine=InnoDB --innodb-autoinc-lock-mode=2 \
    --wsrep-on=ON --wsrep-provider="$provider" --wsrep-cluster-name=switchyard-test \
    --wsrep-cluster-address="$(cluster_address)" --wsrep-node-name="node$n" \
    --wsrep-node-address="127.0.0.1:$(port "$n" 2)" \
    --wsrep-node-incoming-address="127.0.0.1:$(port "$n" 1)" \
    --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$(port "$n" 4)" \
    --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$(port "$n" 2);ist.recv_addr=127.0.0.1:$(port "$n" 3);gcache.size=32M;evs.suspect_timeout=PT5S;evs.inactive_timeout=PT10S" \
    "$@" </dev/null >>"$(errlog "$n")" 2>&1 9>&- &
  # Without job control setsid does not fork: $! is the server's pid from the start (the pid
  # file appears only once it is up).
  echo $! >"$d/launch.pid"
  disown $! 2>/dev/null || true
}

alive() {  # alive N: node N's process exists (up or still starting)
  server_pid "$1" >/dev/null && return 0
  local f
  f=$(node_dir "$1")/launch.pid
  [[ -s $f ]] && kill -0 "$(<"$f")" 2>/dev/null
}

wait_synced() {  # wait_synced N
  local n=$1 deadline=$((SECONDS + start_timeout)) pid
  while ((SECONDS < deadline)); do
    synced "$n" && return 0
    # mariadbd writes its pid file only when it is up; until then, look for the process.
    if ! alive "$n"; then
      log_tail "$n"
      die "node $n exited during startup"
    fi
    sleep 0.3
  done
  log_tail "$n"
  die "node $n was not Synced within ${start_timeout}s (SY_GALERA_START_TIMEOUT)"
}

provision() {  # through node 1; Galera replicates users and databases
  client 1 <<SQL
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`switchyard\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
}

do_start() {
  local why
  why=$(check_packages) || die "$why"
  mkdir -p "$dir"
  chmod 755 "$dir"
  exec 9>"$dir/.lock"
  flock 9
  local n all=1
  for n in "${nodes[@]}"; do
    synced "$n" 2>/dev/null || all=0
  done
  if ((all)); then
    provision
    return 0
  fi
  for n in "${nodes[@]}"; do
    init_node "$n"
  done
  # A fresh bootstrap: node 1 may start a new cluster only if it was the last to leave (or the
  # cluster never ran); safe_to_bootstrap says so, and a test cluster just marks it safe.
  if [[ -f $(node_dir 1)/data/grastate.dat ]]; then
    sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$(node_dir 1)/data/grastate.dat"
  fi
  alive 1 || start_node 1 --wsrep-new-cluster
  # Node 1 alone is a primary component of size 1 until the others join.
  local deadline=$((SECONDS + start_timeout))
  until client 1 -e "SELECT 1" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || {
      log_tail 1
      die "node 1 did not answer within ${start_timeout}s"
    }
    alive 1 || {
      log_tail 1
      die "node 1 exited during startup"
    }
    sleep 0.3
  done
  for n in 2 3; do
    alive "$n" || start_node "$n"
  done
  for n in "${nodes[@]}"; do
    wait_synced "$n"
  done
  provision
  echo "galera.sh: running, client ports $(do_env | sed -n 's/^SY_TEST_GALERA_PORTS=//p')" >&2
}

wait_exit() {  # wait_exit PID SECONDS MESSAGE: until PID is gone, or die with MESSAGE
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || die "$3"
    sleep 0.05
  done
}

do_stop() {
  [[ -d $dir ]] || return 0
  exec 9>"$dir/.lock"
  flock 9
  local n pid
  for n in 3 2 1; do
    [[ -d $(node_dir "$n") ]] || continue
    pid=$(server_pid "$n") || continue
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$pid" 60 "node $n (pid $pid) did not exit within 60s"
    echo "galera.sh: stopped node $n (pid $pid)" >&2
  done
}

do_status() {
  local n
  for n in "${nodes[@]}"; do
    synced "$n" || {
      echo "not running (node $n not Synced; dir $dir)"
      return 1
    }
  done
  echo "running: 3 nodes Synced, dir $dir"
}

do_env() {
  local n ports=()
  for n in "${nodes[@]}"; do
    [[ -s $(node_dir "$n")/ports ]] || die "no cluster in $dir yet; run: $0 start"
    ports+=("$(port "$n" 1)")
  done
  local IFS=,
  printf 'SY_TEST_GALERA_PORTS=%s\n' "${ports[*]}"
  printf 'SY_TEST_GALERA_USER=%q\n' "$user"
  printf 'SY_TEST_GALERA_PASSWORD=%q\n' "$password"
}

do_kill_node() {  # do_kill_node N
  local n=$1 pid f
  [[ $n =~ ^[123]$ ]] || die "kill-node: no node '$n' (1, 2 or 3)"
  pid=$(server_pid "$n") || {
    f=$(node_dir "$n")/launch.pid
    [[ -s $f ]] && kill -0 "$(<"$f")" 2>/dev/null || die "kill-node: node $n is not running"
    pid=$(<"$f")
  }
  kill -KILL "$pid"
  wait_exit "$pid" 30 "node $n (pid $pid) still exists 30s after kill -9"
  echo "galera.sh: killed node $n (pid $pid)" >&2
}

recover_position() {  # recover_position N: node N's last committed uuid:seqno, or nothing
  local n=$1 d log
  d=$(node_dir "$n")
  grep -q '^seqno: *-1' "$d/data/grastate.dat" 2>/dev/null || return 0
  log=$d/recover.log
  : >"$log"
  chown mysql:mysql "$log"
  mariadbd --no-defaults --user=mysql --datadir="$d/data" --log-error="$log" \
    --skip-networking --socket="$d/recover.sock" --pid-file="$d/recover.pid" \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=48M --binlog-format=ROW \
    --wsrep-on=ON --wsrep-provider="$provider" --wsrep-cluster-address="$(cluster_address)" \
    --wsrep-recover </dev/null >/dev/null 2>&1 9>&- ||
    true
  sed -n 's/.*WSREP: Recovered position: *\([0-9a-f-]*:[0-9-]*\).*/\1/p' "$log" | tail -n 1
}

do_restart_node() {  # do_restart_node N
  local n=$1
  [[ $n =~ ^[123]$ ]] || die "restart-node: no node '$n' (1, 2 or 3)"
  exec 9>"$dir/.lock"
  flock 9
  if ! alive "$n"; then
    # After a kill -9 grastate.dat has seqno -1 and the node would take a full state transfer
    # (rsync of the whole data directory, tens of seconds); recovering its position from
    # InnoDB first (what galera_recovery does for systemd) lets it catch up by IST.
    local pos
    pos=$(recover_position "$n")
    if [[ -n $pos ]]; then
      start_node "$n" --wsrep-start-position="$pos"
    else
      start_node "$n"
    fi
  fi
  local m
  for m in "${nodes[@]}"; do
    wait_synced "$m"
  done
}

case ${1:-} in
  start) do_start ;;
  kill-node) do_kill_node "${2:-}" ;;
  restart-node) do_restart_node "${2:-}" ;;
  stop) do_stop ;;
  status) do_status ;;
  env) do_env ;;
  check) check_packages ;;
  start-if-installed)
    # For the ctest fixture: no packages = nothing to start (test_galera.py skips, saying why).
    if ! why=$(check_packages); then
      echo "galera.sh: not starting a cluster: $why" >&2
      exit 0
    fi
    do_start
    ;;
  *)
    echo "usage: $0 {start|start-if-installed|stop|status|env|check|kill-node N|restart-node N}" >&2
    exit 2
    ;;
esac
