#!/bin/sh
# Installs the build into a scratch prefix, builds tests/sdk (a driver program and a kernel
# library, with find_package(Weft) and weft_add_kernel_library) against it, and runs the driver
# on workers from that prefix, loading the library everywhere.
#   installer/test-sdk.sh [BUILD_DIR]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
scratch="$build/sdk-test"
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$src/tests/sdk" -B "$scratch/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$scratch/consumer/sdk-driver" "$scratch/prefix/bin/weft-worker" "$scratch/consumer/libmykernels.so"
