#!/usr/bin/env bash
# Builds the fuzz preset (clang-14, libFuzzer, ASan+UBSan) and runs every fuzz target of tests/fuzz
# for a bounded time over its committed seed corpus (which also replays the regression inputs).
# Fails on any crash, leak, sanitizer report or timeout; prints the executions per target.
#
#   tests/fuzz/run_fuzz.sh [SOURCE_DIR]
#   PASTEL_FUZZ_SECONDS=600 tests/fuzz/run_fuzz.sh    # long mode: 10 minutes per target
#   PASTEL_FUZZ_RUNS=5000000 PASTEL_FUZZ_WORKERS=2 ... # a count: 2 processes of 5 million
#                                                      # executions each per target (no time limit)
#   PASTEL_FUZZ_SEED=7 ...                             # seeds (worker i gets SEED+i; default: random)
#   PASTEL_FUZZ_TARGETS="log_recover_fuzz" ...         # a subset
#   PASTEL_FUZZ_CXX=clang++-15 ...                     # the compiler probed (the preset names clang++-14)
#
# Exit codes: 0 all targets ran clean, 1 a crash or a build failure, 77 clang or libFuzzer missing
# (ctest reports it as skipped).
set -uo pipefail

src="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
seconds="${PASTEL_FUZZ_SECONDS:-60}"
runs="${PASTEL_FUZZ_RUNS:-}"
workers="${PASTEL_FUZZ_WORKERS:-1}"
seed="${PASTEL_FUZZ_SEED:-}"
case "$workers" in
  '' | *[!0-9]* | 0) echo "FAIL: PASTEL_FUZZ_WORKERS must be a positive count"; exit 1 ;;
esac
case "$runs" in
  *[!0-9]*) echo "FAIL: PASTEL_FUZZ_RUNS must be a count"; exit 1 ;;
esac
if [ -n "$runs" ]; then
  limit=(-runs="$runs")
  budget="$runs executions"
else
  limit=(-max_total_time="$seconds")
  budget="${seconds} s"
fi
targets="${PASTEL_FUZZ_TARGETS:-http_head_fuzz http_chunked_fuzz resp_fuzz pool_open_fuzz log_recover_fuzz btree_open_fuzz}"
cxx="${PASTEL_FUZZ_CXX:-clang++-14}"
build="$src/build/fuzz"
work="$build/fuzz-work"

skip() {
  echo "SKIP: $*"
  echo "  install clang-14 and libclang-rt-14-dev (scripts/install-deps does) to run the fuzzers"
  exit 77
}

if ! command -v "$cxx" >/dev/null 2>&1; then
  skip "$cxx not found"
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' >"$probe/p.cc"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" >"$probe/log" 2>&1; then
  skip "$cxx cannot link -fsanitize=fuzzer,address,undefined (libFuzzer runtime missing?): $(head -c 300 "$probe/log")"
fi

cd "$src" || exit 1
echo "== configure and build the fuzz preset ($build)"
if ! cmake --preset fuzz >"$probe/configure.log" 2>&1; then
  cat "$probe/configure.log"
  echo "FAIL: cmake --preset fuzz"
  exit 1
fi
if ! cmake --build --preset fuzz 2>&1 | tail -n 20; then
  echo "FAIL: cmake --build --preset fuzz"
  exit 1
fi

mkdir -p "$work"
# Fuzzed files (pool_open_fuzz) go here, not into the shared /tmp.
export TMPDIR="$work"
status=0
summary=()
for t in $targets; do
  bin="$build/tests/fuzz/$t"
  seeds="$src/tests/fuzz/corpus/$t"
  found="$work/corpus/$t"  # what the fuzzer finds is kept here, never in the committed corpus
  mkdir -p "$found" "$work/artifacts"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "FAIL: $t: no binary ($bin) or no seed corpus ($seeds)"
    status=1
    continue
  fi
  echo "== $t: ${budget} x ${workers} worker(s) over $(ls "$seeds" | wc -l) seed(s)"
  # Each worker is its own process (its own seed and log) over the shared corpus directory.
  started=$SECONDS
  pids=()
  for ((w = 0; w < workers; w++)); do
    opts=()
    if [ -n "$seed" ]; then
      opts+=(-seed=$((seed + w)))
    fi
    "$bin" "${limit[@]}" "${opts[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" "$found" "$seeds" \
      >"$work/$t.$w.log" 2>&1 &
    pids+=($!)
  done
  total=0
  failed=0
  for ((w = 0; w < workers; w++)); do
    wait "${pids[$w]}"
    rc=$?
    log="$work/$t.$w.log"
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
    total=$((total + ${execs:-0}))
    if [ $rc -ne 0 ]; then
      tail -n 60 "$log"
      echo "FAIL: $t worker $w exited with $rc after ${execs:-?} executions; reproducer in $work/artifacts/"
      failed=1
    else
      grep -E $'^#[0-9]+\t(INITED|DONE)' "$log" | tail -n 2
    fi
  done
  elapsed=$((SECONDS - started))
  if [ $failed -ne 0 ]; then
    summary+=("$t: FAILED after $total executions")
    status=1
  else
    summary+=("$t: $total executions in $elapsed s ($workers worker(s)), no crash")
  fi
done

echo "== summary"
for line in "${summary[@]}"; do
  echo "  $line"
done
exit $status
