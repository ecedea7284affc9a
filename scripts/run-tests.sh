#!/usr/bin/env bash
# Runs the test suite against already built trees (the Makefile builds them; docs/testing.md):
#
#   --normal DIR   every ctest test of the normal build (unit, integration, bench smoke)
#   --unit DIR     the normal build without its integration tests (unit, bench smoke)
#   --bench DIR    only the normal build's bench smoke tests: what `make test` runs there, since
#                  the unit and integration tests run in the ASan tree
#   --asan DIR     the unit and integration tests of an ASan+UBSan build (not the bench smoke:
#                  it measures nothing under a sanitizer); any sanitizer report fails its test
#   --tsan DIR     the unit tests of a TSan build (only the threaded ones are built there:
#                  SY_TSAN_TESTS in tests/CMakeLists.txt)
#   --fuzz         a short run of every fuzzer (SY_FUZZ_SECONDS each, default 15)
#   --build-behind build the trees of --bench, --tsan and --fuzz (`make build-programs`,
#                  `make build-tsan`, `tests/fuzz/run.sh --build-only`) in the background, at
#                  low priority, while the --asan part runs: its integration tests mostly wait
#                  on sockets, so the builds use the idle CPU (`make test`; docs/testing.md).
#                  The parts after it wait for those builds; a failed build fails its part.
#   DIR            alone: the same as --normal DIR (the old usage)
#
# Starts the project's private MariaDB once for all of them (tests that need a database read
# SY_TEST_MYSQL_* from the environment) and stops it at the end. Runs every part even when one
# fails, prints one line per part, and exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

normal="" unit="" bench="" asan="" tsan="" fuzz=0 build_behind=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --normal) normal=$2; shift 2 ;;
    --unit) unit=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --asan) asan=$2; shift 2 ;;
    --tsan) tsan=$2; shift 2 ;;
    --fuzz) fuzz=1; shift ;;
    --build-behind) build_behind=1; shift ;;
    -*) echo "run-tests: unknown option $1" >&2; exit 2 ;;
    *) normal=$1; shift ;;
  esac
done
if [[ -z "$normal$unit$bench$asan$tsan" && $fuzz -eq 0 ]]; then
  normal=build
fi

db_started=0
behind_pid=""
behind_dir=$(mktemp -d)
cleanup() {
  if [[ -n "$behind_pid" ]] && kill -0 "$behind_pid" 2>/dev/null; then
    kill -- -"$behind_pid" 2>/dev/null || true  # its own process group (set -m below)
  fi
  rm -rf "$behind_dir"
  if [[ $db_started -eq 1 ]]; then
    bash tests/scripts/mariadb.sh stop || true
  fi
}
trap cleanup EXIT

if [[ -n "$normal$unit$bench$asan$tsan" ]]; then
  export SY_MYSQL_DIR=${SY_MYSQL_DIR:-$root/var/mariadb-test}
  bash tests/scripts/mariadb.sh start
  db_started=1
  eval "$(bash tests/scripts/mariadb.sh env)"
  export SY_TEST_MYSQL_HOST SY_TEST_MYSQL_PORT SY_TEST_MYSQL_USER SY_TEST_MYSQL_PASSWORD SY_TEST_MYSQL_SOCKET
fi

summary=()
failed=0
passed_total=0
failed_total=0
out=$(mktemp)
# part NAME COMMAND...: runs one part, records its outcome, duration and test counts (from
# ctest's "N tests failed out of M" or the fuzz script's one line per target).
part() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== $name"
  local ok=1
  "$@" 2>&1 | tee "$out" || ok=0
  local line n_failed n_all
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n 1 || true)
  if [[ -n "$line" ]]; then
    n_failed=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    n_all=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
  else
    n_failed=$(grep -c '^fuzz: .*: FINDING' "$out" || true)
    n_all=$(grep -c -E '^fuzz: [a-z0-9_]+: ([0-9]+s,|FINDING)' "$out" || true)
  fi
  passed_total=$((passed_total + n_all - n_failed))
  failed_total=$((failed_total + n_failed))
  if [[ $ok -eq 1 ]]; then
    summary+=("$name: passed, $((n_all - n_failed)) of $n_all ($((SECONDS - start)) s)")
  else
    summary+=("$name: FAILED, $n_failed of $n_all failed ($((SECONDS - start)) s)")
    failed=1
  fi
}

# --build-behind: one background job builds the other trees one after the other (each with
# every core, niced so that the tests running meanwhile keep the CPU they ask for); it writes
# <tree>.rc and <tree>.log into $behind_dir.
build_tree() {
  local tree=$1
  shift
  local rc=0
  nice -n 19 "$@" >"$behind_dir/$tree.log" 2>&1 || rc=$?
  echo "$rc" >"$behind_dir/$tree.rc"
}
if [[ $build_behind -eq 1 ]]; then
  set -m  # the job gets its own process group, so cleanup can end all of it
  {
    if [[ -n "$bench" ]]; then build_tree normal make -s build-programs BUILD_DIR="$bench"; fi
    if [[ -n "$tsan" ]]; then build_tree tsan make -s build-tsan TSAN_DIR="$tsan"; fi
    if [[ $fuzz -eq 1 ]]; then build_tree fuzz bash tests/fuzz/run.sh --build-only; fi
  } </dev/null &
  behind_pid=$!
  set +m
fi
# built_and TREE COMMAND...: runs COMMAND if TREE (normal, tsan or fuzz) built behind; if it did
# not, prints the end of its build log and fails. (Runs inside `part`'s pipeline, so the main
# shell waits for the background job first: wait_behind.)
built_and() {
  local tree=$1
  shift
  if [[ $build_behind -eq 1 && "$(cat "$behind_dir/$tree.rc" 2>/dev/null)" != 0 ]]; then
    echo "run-tests: building the $tree tree failed:"
    tail -n 60 "$behind_dir/$tree.log" 2>/dev/null || true
    return 1
  fi
  "$@"
}
wait_behind() {
  if [[ -n "$behind_pid" ]]; then
    local start=$SECONDS
    wait "$behind_pid" || true
    echo "run-tests: waited $((SECONDS - start)) s for the builds behind the tests"
    behind_pid=""
  fi
}

jobs=$(nproc)
if [[ -n "$asan" ]]; then
  # The sanitizer options every test gets are set by tests/CMakeLists.txt (sanitizer_env).
  part "ASan+UBSan build ($asan)" ctest --test-dir "$asan" --output-on-failure -j"$jobs" \
    --timeout 900 --label-exclude bench
fi
wait_behind
if [[ -n "$normal" ]]; then
  part "normal build ($normal)" ctest --test-dir "$normal" --output-on-failure -j"$jobs" --timeout 600
fi
if [[ -n "$unit" ]]; then
  part "normal build without integration tests ($unit)" ctest --test-dir "$unit" \
    --output-on-failure -j"$jobs" --timeout 600 --label-exclude integration
fi
if [[ -n "$bench" ]]; then
  part "normal build, bench smoke ($bench)" built_and normal ctest --test-dir "$bench" --output-on-failure \
    -j"$jobs" --timeout 600 --label-regex '^bench$'
fi
if [[ -n "$tsan" ]]; then
  part "TSan build ($tsan)" built_and tsan ctest --test-dir "$tsan" --output-on-failure -j"$jobs" --timeout 900
fi
if [[ $fuzz -eq 1 ]]; then
  part "fuzzers (${SY_FUZZ_SECONDS:-15} s each)" built_and fuzz bash tests/fuzz/run.sh "${SY_FUZZ_SECONDS:-15}"
fi

echo
for line in "${summary[@]}"; do
  echo "run-tests: $line"
done
rm -f "$out"
if [[ $failed -eq 1 && $failed_total -eq 0 ]]; then
  failed_total=1  # a part failed without a count (e.g. a build or set-up step)
fi
echo "run-tests: $passed_total passed, $failed_total failed"
exit $failed
