#!/usr/bin/env bash
# Installs the Debian 12 packages listed in debian12-packages.txt that are not installed yet,
# then configures and builds Weft in build/. Quick when nothing changed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build_type=${WEFT_BUILD_TYPE:-RelWithDebInfo}
build_dir=${WEFT_BUILD_DIR:-$root/build}

mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$here/debian12-packages.txt")
missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

extra=()
[[ ${CI:-} == true ]] && extra+=(-DWEFT_WARNINGS_AS_ERRORS=ON)
if [[ ! -f $build_dir/build.ninja ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "${extra[@]}" "$@"
fi
cmake --build "$build_dir" --parallel "$(nproc)"
