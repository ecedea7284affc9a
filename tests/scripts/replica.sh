#!/usr/bin/env bash
# A private MariaDB primary/replica pair for tests: two mariadbd on loopback, each with its own
# data directory, unix socket and client port under one private directory; binary-log
# replication with GTID (the replica reads the primary as the `switchyard` user, which has
# REPLICATION SLAVE through ALL PRIVILEGES). Never reads /etc/mysql (--no-defaults) and never
# touches a system server. Every `start` begins from empty data directories: a promotion ends
# the pair, so each test that promotes starts a pair of its own.
#
#   tests/scripts/replica.sh start     stop what runs, fresh data directories (copies of one
#                                      initialised template), start the primary (server_id 1,
#                                      log-bin), create the switchyard user and database, start
#                                      the replica (server_id 2, read_only, log-bin with
#                                      log-slave-updates), CHANGE MASTER ... MASTER_USE_GTID,
#                                      wait until it has caught up
#   tests/scripts/replica.sh stop      clean shutdown of whichever of the two runs
#   tests/scripts/replica.sh status    exit 0 and print a line if both run and the replica's
#                                      two threads are running
#   tests/scripts/replica.sh env       print SY_TEST_REPLICA_* shell assignments (eval them):
#                                      PRIMARY_PORT, REPLICA_PORT, USER, PASSWORD
#   tests/scripts/replica.sh pause     STOP SLAVE SQL_THREAD on the replica: it keeps receiving
#                                      the primary's binary log but applies nothing (it lags)
#   tests/scripts/replica.sh resume    START SLAVE SQL_THREAD
#   tests/scripts/replica.sh kill-primary   kill -9 the primary (a crash: nothing flushed)
#   tests/scripts/replica.sh promote   the primary must be gone (kill-primary, or it is
#                                      stopped here); STOP SLAVE; RESET SLAVE ALL; SET GLOBAL
#                                      read_only = 0 on the replica, which applies nothing more
#                                      of its relay log (a lagging replica loses what it had not
#                                      applied). Prints "own-writes-before: <GTIDs>": the
#                                      replica's binlog GTIDs of its own server_id (2) before
#                                      read_only was lifted, i.e. writes that reached it
#                                      directly instead of through replication ("" = none)
#   tests/scripts/replica.sh gtid-state PRIMARY|REPLICA   @@gtid_binlog_state of that server
#
# Environment:
#   SY_REPLICA_DIR            the private directory (default <repo>/var/replica); pairs in
#                             different directories run side by side
#   SY_REPLICA_TEMPLATE       the initialised data directory every start copies (default
#                             <repo>/var/replica-template; made on first use, under a lock)
#   SY_REPLICA_START_TIMEOUT  seconds to wait for each server and for the replica to catch up
#                             (default 60)
#
# Files in $SY_REPLICA_DIR/<primary|replica>/: data/, mysqld.sock, mysqld.pid, port, error.log.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${SY_REPLICA_DIR:-$repo/var/replica}
template_dir=${SY_REPLICA_TEMPLATE:-$repo/var/replica-template}
start_timeout=${SY_REPLICA_START_TIMEOUT:-60}
user=switchyard
password=switchyard

die() {
  echo "replica.sh: $*" >&2
  exit 1
}

node_dir() { echo "$dir/$1"; }
sock() { echo "$dir/$1/mysqld.sock"; }
pidfile() { echo "$dir/$1/mysqld.pid"; }
errlog() { echo "$dir/$1/error.log"; }
port() { cat "$dir/$1/port"; }
server_id() { [[ $1 == primary ]] && echo 1 || echo 2; }

log_tail() {
  local f
  f=$(errlog "$1")
  if [[ -f $f ]]; then
    echo "---- last lines of $f ----" >&2
    tail -n 30 "$f" >&2
    echo "----" >&2
  fi
}

server_pid() {  # server_pid NODE: the pid if the pid file names a live process
  local pid f
  f=$(pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

client() {  # client NODE ARGS...: mariadb as root over NODE's socket
  local n=$1
  shift
  mariadb --no-defaults --socket="$(sock "$n")" --user=root --batch --skip-column-names \
    --connect-timeout=2 "$@"
}

answers() { client "$1" -e "SELECT 1" >/dev/null 2>&1; }

pick_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_user() { [[ $(id -u) -eq 0 ]] && echo --user=root || true; }

template() {  # one initialised data directory, copied for each fresh start
  mkdir -p "$(dirname "$template_dir")"
  exec 8>"$template_dir.lock"
  flock 8  # pairs started side by side make it once
  if [[ ! -d $template_dir/mysql ]]; then
    rm -rf "$template_dir"
    mkdir -p "$template_dir"
    # shellcheck disable=SC2046
    if ! mariadb-install-db --no-defaults --datadir="$template_dir" $(as_user) \
        --auth-root-authentication-method=normal --skip-test-db --innodb-log-file-size=48M \
        >"$template_dir.log" 2>&1; then
      tail -n 30 "$template_dir.log" >&2
      rm -rf "$template_dir"
      die "mariadb-install-db failed (full output in $template_dir.log)"
    fi
  fi
  exec 8>&-
}

start_node() {  # start_node NODE [extra mariadbd options]
  local n=$1 d pid
  shift
  d=$(node_dir "$n")
  rm -rf "$d"
  mkdir -p "$d"
  cp -a "$template_dir" "$d/data"
  pick_port >"$d/port"
  : >"$(errlog "$n")"
  echo "replica.sh: starting the $n on 127.0.0.1:$(port "$n")" >&2
  # setsid: the server must not die with the caller's terminal or process group.
  # shellcheck disable=SC2046
  setsid mariadbd --no-defaults --datadir="$d/data" --socket="$(sock "$n")" \
    --port="$(port "$n")" --bind-address=127.0.0.1 --pid-file="$(pidfile "$n")" \
    --log-error="$(errlog "$n")" --skip-name-resolve $(as_user) \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=300 \
    --server-id="$(server_id "$n")" --log-bin="$d/data/binlog" --binlog-format=ROW \
    --log-slave-updates=ON --log-bin-trust-function-creators=ON \
    "$@" </dev/null >>"$(errlog "$n")" 2>&1 8>&- 9>&- &
  pid=$!
  disown "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + start_timeout))
  until answers "$n"; do
    kill -0 "$pid" 2>/dev/null || {
      log_tail "$n"
      die "the $n (pid $pid) exited during startup"
    }
    ((SECONDS < deadline)) || {
      log_tail "$n"
      die "the $n did not answer within ${start_timeout}s (SY_REPLICA_START_TIMEOUT)"
    }
    sleep 0.2
  done
}

stop_node() {  # stop_node NODE [KILL]: clean shutdown (or kill -9), waits until it is gone
  local n=$1 sig=${2:-TERM} pid
  pid=$(server_pid "$n") || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "the $n (pid $pid) did not exit within 60s"
    sleep 0.1
  done
  echo "replica.sh: $n stopped ($sig, pid $pid)" >&2
}

slave_field() {  # slave_field NAME: one field of SHOW SLAVE STATUS on the replica
  mariadb --no-defaults --socket="$(sock replica)" --user=root --connect-timeout=2 -E \
    -e "SHOW SLAVE STATUS" | sed -n "s/^ *$1: //p"
}

do_start() {
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  stop_node replica
  stop_node primary
  template
  start_node primary
  client primary <<SQL
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`switchyard\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
  # The replica starts from the same empty template and replays the primary's whole binary
  # log (the user above included): an empty gtid_slave_pos means "from the beginning".
  start_node replica --read-only=ON
  client replica <<SQL
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(port primary), MASTER_USER='$user',
  MASTER_PASSWORD='$password', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
SQL
  local want deadline=$((SECONDS + start_timeout))
  want=$(client primary -e "SELECT @@gtid_binlog_pos")
  until [[ $(client replica -e "SELECT @@gtid_slave_pos") == "$want" ]]; do
    ((SECONDS < deadline)) || {
      slave_field 'Last_[A-Z]*_Error' >&2 || true
      log_tail replica
      die "the replica did not catch up to $want within ${start_timeout}s"
    }
    sleep 0.1
  done
  echo "replica.sh: running, primary port $(port primary), replica port $(port replica)" >&2
}

do_stop() {
  [[ -d $dir ]] || return 0
  exec 9>"$dir/.lock"
  flock 9
  stop_node replica
  stop_node primary
}

do_status() {
  server_pid primary >/dev/null && answers primary || {
    echo "not running (no primary; dir $dir)"
    return 1
  }
  answers replica || {
    echo "not running (no replica; dir $dir)"
    return 1
  }
  local io sql
  io=$(slave_field Slave_IO_Running)
  sql=$(slave_field Slave_SQL_Running)
  echo "running: primary port $(port primary), replica port $(port replica)," \
    "replica io $io, sql $sql"
  [[ $io == Yes && $sql == Yes ]]
}

do_env() {
  [[ -s $dir/primary/port && -s $dir/replica/port ]] || die "no pair in $dir yet; run: $0 start"
  printf 'SY_TEST_REPLICA_PRIMARY_PORT=%s\n' "$(port primary)"
  printf 'SY_TEST_REPLICA_REPLICA_PORT=%s\n' "$(port replica)"
  printf 'SY_TEST_REPLICA_USER=%q\n' "$user"
  printf 'SY_TEST_REPLICA_PASSWORD=%q\n' "$password"
}

do_promote() {
  stop_node primary
  # One session: what reached the replica on its own before read_only is lifted, then lift it.
  client replica <<SQL
STOP SLAVE;
RESET SLAVE ALL;
SELECT CONCAT('own-writes-before: ', COALESCE((SELECT GROUP_CONCAT(g) FROM (
  SELECT TRIM(s.g) AS g FROM JSON_TABLE(CONCAT('["', REPLACE(@@gtid_binlog_state, ',', '","'),
  '"]'), '\$[*]' COLUMNS (g VARCHAR(64) PATH '\$')) s) t
  WHERE SUBSTRING_INDEX(SUBSTRING_INDEX(g, '-', 2), '-', -1) = '2'), ''));
SET GLOBAL read_only = 0;
SQL
  echo "replica.sh: the replica (port $(port replica)) is the primary now" >&2
}

case ${1:-} in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) do_env ;;
  pause) client replica -e "STOP SLAVE SQL_THREAD" ;;
  resume) client replica -e "START SLAVE SQL_THREAD" ;;
  kill-primary) stop_node primary KILL ;;
  promote) do_promote ;;
  gtid-state)
    case ${2:-} in
      PRIMARY | primary) client primary -e "SELECT @@gtid_binlog_state" ;;
      REPLICA | replica) client replica -e "SELECT @@gtid_binlog_state" ;;
      *) die "usage: $0 gtid-state primary|replica" ;;
    esac
    ;;
  *)
    echo "usage: $0 {start|stop|status|env|pause|resume|kill-primary|promote|gtid-state}" >&2
    exit 2
    ;;
esac
