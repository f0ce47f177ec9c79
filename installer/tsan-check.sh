#!/usr/bin/env bash
# Builds Weft with ThreadSanitizer in build-tsan/ and runs the runtime suites (engine and cluster
# labels) under it. Fails if a test fails or TSan reports anything.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/installer/bootstrap.sh" >/dev/null
if [[ ! -f $root/build-tsan/build.ninja ]]; then
  cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE_THREAD=ON
fi
cmake --build "$root/build-tsan" --parallel "$(nproc)"
export TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 suppressions=$root/tests/tsan.supp"
ctest --test-dir "$root/build-tsan" -L 'engine|cluster' -E weft_bench_smoke --output-on-failure -j2
