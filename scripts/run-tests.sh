#!/usr/bin/env bash
# Runs the whole test suite against a build directory: starts the project's private MariaDB
# (tests that need a database read SY_TEST_MYSQL_* from the environment), runs ctest, stops the
# database, then runs the HTTP/1 parser fuzzer briefly. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
root=$(pwd)

db_started=0
cleanup() {
  if [[ $db_started -eq 1 ]]; then
    bash tests/scripts/mariadb.sh stop || true
  fi
}
trap cleanup EXIT

if [[ -x tests/scripts/mariadb.sh || -f tests/scripts/mariadb.sh ]]; then
  export SY_MYSQL_DIR=${SY_MYSQL_DIR:-$root/var/mariadb-test}
  bash tests/scripts/mariadb.sh start
  db_started=1
  eval "$(bash tests/scripts/mariadb.sh env)"
  export SY_TEST_MYSQL_HOST SY_TEST_MYSQL_PORT SY_TEST_MYSQL_USER SY_TEST_MYSQL_PASSWORD SY_TEST_MYSQL_SOCKET
fi

ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" --timeout 600

if [[ -f tests/fuzz/run.sh ]]; then
  bash tests/fuzz/run.sh "${SY_FUZZ_SECONDS:-20}"
fi
