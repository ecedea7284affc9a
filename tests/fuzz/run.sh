#!/bin/sh
# Builds the HTTP/1 codec fuzz target with clang's libFuzzer and runs it for a bounded time.
# Usage: tests/fuzz/run.sh [seconds]   (default 60; make test runs it with 30)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-60}
out=${SY_FUZZ_BUILD_DIR:-$root/build/fuzz}
mkdir -p "$out" "$out/corpus"
cxx=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$cxx" ]; then
  echo "fuzz: clang++ not found (install clang and libclang-rt-14-dev)" >&2
  exit 1
fi
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" "$here/http1_fuzz.cpp" "$root/proxy/http1_parser.cpp" -o "$out/http1_fuzz"
echo "fuzz: running http1_fuzz for ${seconds}s"
# Seeds live in the repo; new finds go to the build dir so the tree stays clean.
"$out/http1_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -dict="$here/http1.dict" -print_final_stats=1 \
  "$out/corpus" "$here/corpus/http1" 2>&1 | tail -n 25
