#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, every library coverage-instrumented) and runs
# each for a bounded time, several at once, then prints one summary line per target.
#
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#        tests/fuzz/run.sh --build-only [TARGET...]   (configure and build, run nothing)
#   SECONDS   per target (default 60); `make test` runs 15, `make fuzz` FUZZ_SECONDS (600)
#   TARGET    http1 chunked h2 config context_key admin_protocol (default: all)
# Environment: SY_FUZZ_BUILD_DIR (default build-fuzz), SY_FUZZ_JOBS (targets run at once,
# default nproc), SY_FUZZ_KEEP_CORPUS=1 keeps what earlier runs found (default: start from the
# seeds, so a smoke run is the same every time).
#
# Seeds are tests/fuzz/corpus/<target>/ (in git); new inputs go to <build>/corpus/<target>/ and
# crashes to <build>/artifacts/. Exit status 1 when any target found a crash or a timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build_only=0
if [[ ${1:-} == --build-only ]]; then
  build_only=1
  shift
fi
seconds=60
if [[ $build_only -eq 0 && $# -gt 0 ]]; then
  seconds=$1
  shift
fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(http1 chunked h2 config context_key admin_protocol)
fi
out=${SY_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${SY_FUZZ_JOBS:-$(nproc)}

cxx=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z "$cxx" ]]; then
  echo "fuzz: clang++ not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cc=$(command -v clang || command -v clang-14)
cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DSY_FUZZ=ON >"$out.configure.log" 2>&1 ||
  { cat "$out.configure.log" >&2; exit 1; }
cmake --build "$out" -j"$(nproc)" --target "${targets[@]/%/_fuzz}"
if [[ $build_only -eq 1 ]]; then
  exit 0
fi

# Per target: the longest input worth trying.
max_len() {
  case $1 in
    h2) echo 16384 ;;
    config) echo 8192 ;;
    chunked) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

run_one() {
  local t=$1
  local corpus=$out/corpus/$t
  if [[ "${SY_FUZZ_KEEP_CORPUS:-0}" != 1 ]]; then
    rm -rf "$corpus"
  fi
  mkdir -p "$corpus" "$out/artifacts"
  local args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
              -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-")
  [[ -f "$here/$t.dict" ]] && args+=(-dict="$here/$t.dict")
  # ASan/UBSan options of the target: leaks are checked per input by libFuzzer itself.
  local seeds=("$here/corpus/$t")
  [[ $t == config ]] && seeds+=("$root/conf/examples")  # the example configs seed it too
  "$out/tests/fuzz/${t}_fuzz" "${args[@]}" "$corpus" "${seeds[@]}" >"$out/$t.log" 2>&1
}

echo "fuzz: running ${targets[*]} for ${seconds}s each, $jobs at a time"
declare -A pids
status=0
running=0
for t in "${targets[@]}"; do
  if [[ $running -ge $jobs ]]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  pids[$t]=$!
  running=$((running + 1))
done
for t in "${targets[@]}"; do
  if ! wait "${pids[$t]}"; then
    status=1
  fi
done

# One line per target: executions, coverage (edges) and features at the end, corpus size, and
# any crash, leak or timeout with the file that reproduces it.
for t in "${targets[@]}"; do
  log=$out/$t.log
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || echo "?")
  corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' <<<"$last" | cut -d' ' -f2 || echo "?")
  finding=$(grep -E -m1 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|contract violated|left after the client' "$log" || true)
  if [[ -n "$finding" ]]; then
    artifact=$(grep -o "Test unit written to .*" "$log" | tail -n 1 | sed 's/Test unit written to //' || true)
    echo "fuzz: $t: FINDING: $finding"
    echo "fuzz: $t: reproduce: $out/tests/fuzz/${t}_fuzz ${artifact:-<see $log>}"
    tail -n 40 "$log" >&2
    status=1
  else
    echo "fuzz: $t: ${seconds}s, $execs execs ($rate/s), cov $cov, ft $ft, corpus $corp, no finding"
  fi
done
exit $status
