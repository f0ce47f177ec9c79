#!/usr/bin/env bash
# Builds Weft with AddressSanitizer and UndefinedBehaviorSanitizer in build-asan/ and runs the
# runtime suites (engine and cluster labels, the randomized model and payload tests among them)
# under it. Fails if a test fails or if a sanitizer reports anything, in the test process or in
# any worker it started (every process writes its reports under one directory).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/installer/bootstrap.sh" >/dev/null
# Configured every time (quick when nothing changed), so the list of suites below is current.
# -O1 -g1 (line tables): what the sanitizers recommend, and a shorter build for CI.
cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DWEFT_SANITIZE_ADDRESS=ON >/dev/null
# The engine, the worker and the runtime suites are enough; the GUI is not under test here.
cmake --build "$root/build-asan" --parallel "$(nproc)" --target weft-worker \
  $(ctest --test-dir "$root/build-asan" -L 'engine|cluster|ssh' -E 'weft_bench_smoke|weft_bench_ssh_smoke|tst_ssh_ui|tst_ssh_second_host' -N \
      | sed -n 's/^ *Test *#[0-9]*: //p') | tail -n 1
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
# Leaks are checked by the suites that measure them; fibers' stacks confuse LeakSanitizer.
export ASAN_OPTIONS="detect_leaks=0 log_path=$reports/asan abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1 log_path=$reports/ubsan"
# The randomized suites run at full size in the plain build; here a smaller share keeps CI short.
export WEFT_FUZZ_INPUTS=${WEFT_FUZZ_INPUTS:-5000}
export WEFT_MODEL_SEEDS=${WEFT_MODEL_SEEDS:-2}
status=0
ctest --test-dir "$root/build-asan" -L 'engine|cluster|ssh' -E 'weft_bench_smoke|weft_bench_ssh_smoke|tst_ssh_ui|tst_ssh_second_host' --output-on-failure \
  -j2 || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "asan-check: a sanitizer reported:"
  cat "$reports"/*
  exit 1
fi
exit "$status"
