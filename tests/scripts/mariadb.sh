#!/usr/bin/env bash
# A private MariaDB server for tests, the demo and development: its own data directory, a unix
# socket in that directory and a loopback TCP port chosen once and remembered. It never reads
# /etc/mysql (every program runs with --no-defaults) and never touches a system server.
#
#   tests/scripts/mariadb.sh start    initialise on first use, start, wait until it answers,
#                                     create the switchyard user and databases; ok if running
#   tests/scripts/mariadb.sh stop     clean shutdown; waits until the server process is gone
#   tests/scripts/mariadb.sh status   exit 0 and print a line if it is running, else exit 1
#   tests/scripts/mariadb.sh env      print SY_TEST_MYSQL_* shell assignments (eval them)
#
# Environment:
#   SY_MYSQL_DIR            data directory (default <repo>/var/mariadb)
#   SY_MYSQL_START_TIMEOUT  seconds to wait for the server to answer (default 60)
#
# Files in $SY_MYSQL_DIR: data/ (the datadir), mysqld.sock, mysqld.pid, port, error.log.
# root@localhost has no password and is reachable through the socket only (TCP logins arrive
# as 127.0.0.1 because of --skip-name-resolve); tests use 'switchyard'/'switchyard' over TCP.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${SY_MYSQL_DIR:-$repo/var/mariadb}
start_timeout=${SY_MYSQL_START_TIMEOUT:-60}
datadir=$dir/data
sock=$dir/mysqld.sock
pidfile=$dir/mysqld.pid
portfile=$dir/port
errlog=$dir/error.log

user=switchyard
password=switchyard

die() {
  echo "mariadb.sh: $*" >&2
  exit 1
}

log_tail() {
  if [[ -f $errlog ]]; then
    echo "---- last lines of $errlog ----" >&2
    tail -n 30 "$errlog" >&2
    echo "----" >&2
  fi
}

# The server's pid if the pid file names a live process, else nothing.
server_pid() {
  local pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

admin() {  # mariadb-admin as root over the private socket
  mariadb-admin --no-defaults --socket="$sock" --user=root --connect-timeout=2 "$@"
}

client() {  # mariadb client as root over the private socket
  mariadb --no-defaults --socket="$sock" --user=root --batch --skip-column-names "$@"
}

answers() {
  admin ping >/dev/null 2>&1
}

port_free() {  # port_free PORT: nothing listens on 127.0.0.1:PORT
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  local p
  if command -v python3 >/dev/null 2>&1; then
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) || p=
    if [[ -n $p ]]; then
      echo "$p"
      return 0
    fi
  fi
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

init_datadir() {
  local as_user=()
  [[ $(id -u) -eq 0 ]] && as_user=(--user=root)
  echo "mariadb.sh: initialising $datadir" >&2
  rm -rf "$datadir"
  mkdir -p "$datadir"
  if ! mariadb-install-db --no-defaults --datadir="$datadir" "${as_user[@]}" \
      --auth-root-authentication-method=normal --skip-test-db \
      >"$dir/install.log" 2>&1; then
    tail -n 30 "$dir/install.log" >&2
    rm -rf "$datadir"
    die "mariadb-install-db failed (full output in $dir/install.log)"
  fi
}

provision() {  # idempotent: user, grants, databases
  client <<SQL
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`switchyard\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS \`configdb\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
}

do_start() {
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9  # concurrent starts of the same directory serialise here

  if server_pid >/dev/null && answers; then
    provision || die "could not create the switchyard user/databases"
    return 0
  fi
  local pid
  if pid=$(server_pid); then
    # Running but not answering yet (another start is still waiting, or it is shutting down).
    wait_until_up "$pid"
    provision || die "could not create the switchyard user/databases"
    return 0
  fi

  [[ -d $datadir/mysql ]] || init_datadir

  local port
  if [[ -s $portfile ]]; then
    port=$(<"$portfile")
    if ! port_free "$port"; then
      echo "mariadb.sh: remembered port $port is taken by another process; choosing a new one" >&2
      port=$(pick_port)
    fi
  else
    port=$(pick_port)
  fi
  echo "$port" >"$portfile"

  local as_user=()
  [[ $(id -u) -eq 0 ]] && as_user=(--user=root)
  rm -f "$sock" "$pidfile"
  : >>"$errlog"
  echo "mariadb.sh: starting mariadbd on 127.0.0.1:$port (datadir $datadir)" >&2
  # setsid: the server must not die with the caller's terminal or process group.
  setsid mariadbd --no-defaults --datadir="$datadir" --socket="$sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$errlog" --skip-name-resolve \
    "${as_user[@]}" --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=500 --skip-log-bin \
    </dev/null >>"$errlog" 2>&1 9>&- &
  pid=$!
  disown "$pid" 2>/dev/null || true
  wait_until_up "$pid"
  provision || die "could not create the switchyard user/databases"
  echo "mariadb.sh: running (pid $(server_pid), port $port, socket $sock)" >&2
}

wait_until_up() {  # wait_until_up PID
  local pid=$1 deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail
      die "mariadbd (pid $pid) exited during startup"
    fi
    answers && return 0
    sleep 0.2
  done
  log_tail
  die "mariadbd (pid $pid) did not answer within ${start_timeout}s (SY_MYSQL_START_TIMEOUT)"
}

do_stop() {
  [[ -d $dir ]] || return 0
  exec 9>"$dir/.lock"
  flock 9
  local pid
  if ! pid=$(server_pid); then
    rm -f "$sock" "$pidfile"
    return 0
  fi
  admin shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log_tail
      die "mariadbd (pid $pid) did not exit within 60s"
    fi
    sleep 0.1
  done
  echo "mariadb.sh: stopped (pid $pid)" >&2
}

do_status() {
  local pid
  if pid=$(server_pid) && answers; then
    echo "running: pid $pid, port $(cat "$portfile" 2>/dev/null), socket $sock, dir $dir"
    return 0
  fi
  echo "not running (dir $dir)"
  return 1
}

do_env() {
  [[ -s $portfile ]] || die "no server in $dir yet; run: $0 start"
  printf 'SY_TEST_MYSQL_HOST=%q\n' 127.0.0.1
  printf 'SY_TEST_MYSQL_PORT=%q\n' "$(<"$portfile")"
  printf 'SY_TEST_MYSQL_USER=%q\n' "$user"
  printf 'SY_TEST_MYSQL_PASSWORD=%q\n' "$password"
  printf 'SY_TEST_MYSQL_SOCKET=%q\n' "$sock"
}

case ${1:-} in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) do_env ;;
  *)
    echo "usage: $0 {start|stop|status|env}" >&2
    exit 2
    ;;
esac
