#!/usr/bin/env bash
# Builds Weft with ThreadSanitizer in build-tsan/ and runs the runtime suites (engine and cluster
# labels) under it. Fails if a test fails or if TSan reports anything, in the test process or in
# any worker it started (every process writes its reports under one directory).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/installer/bootstrap.sh" >/dev/null
# Suites with no threads of their own (codecs, parsers) run under ASan only: TSan has nothing to
# find there, and CI time is short.
skip='weft_bench_smoke|weft_bench_ssh_smoke|tst_ssh_ui|tst_ssh_second_host|tst_value_codec|tst_wire_limits|tst_telemetry_codec|tst_telemetry_hub|tst_kernel_conversions|tst_handshake'
# Configured every time (quick when nothing changed), so the list of suites below is current.
# -O1 -g1 (line tables): what the sanitizers recommend, and a shorter build for CI.
cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DWEFT_SANITIZE_THREAD=ON >/dev/null
# The engine, the worker and the runtime suites are enough; the GUI is not under test here.
cmake --build "$root/build-tsan" --parallel "$(nproc)" --target weft-worker \
  $(ctest --test-dir "$root/build-tsan" -L 'engine|cluster|ssh' -E "$skip" -N \
      | sed -n 's/^ *Test *#[0-9]*: //p') | tail -n 1
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
# die_after_fork=0: QProcess forks the multi-threaded test and the child execs at once.
export TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 die_after_fork=0 \
suppressions=$root/tests/tsan.supp log_path=$reports/report"
# The randomized suites run at full size in the plain build; here a smaller share keeps CI short.
export WEFT_FUZZ_INPUTS=${WEFT_FUZZ_INPUTS:-3000}
export WEFT_MODEL_SEEDS=${WEFT_MODEL_SEEDS:-2}
export WEFT_MODEL_STEPS=${WEFT_MODEL_STEPS:-1500}
status=0
# One suite at a time: TSan slows everything 5-15x, and two at once starve the telemetry test's
# busy worker of the CPU it measures.
ctest --test-dir "$root/build-tsan" -L 'engine|cluster|ssh' -E "$skip" --output-on-failure \
  || status=$?
if compgen -G "$reports/report*" >/dev/null; then
  echo "tsan-check: ThreadSanitizer reported:"
  cat "$reports"/report*
  exit 1
fi
exit "$status"
