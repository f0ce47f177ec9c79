#!/usr/bin/env bash
# Runs Weft's main job: the desktop app on 4 local workers with a demo pmap running.
# With a display, the window opens. Without one (a server, a container), it runs under Xvfb and
# saves a screenshot of the window after a few seconds, so the command still shows what it did.
#   installer/run.sh [weft options...]      (default: --workers 4 --demo)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
weft=${WEFT_BUILD_DIR:-$root/build}/app/weft
args=("$@")
((${#args[@]})) || args=(--workers 4 --demo)
if [[ -n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-} ]]; then
  exec "$weft" "${args[@]}"
fi
shot=${WEFT_SCREENSHOT:-$root/weft-screenshot.png}
echo "run: no display; running Weft under Xvfb and saving a screenshot to $shot"
exec xvfb-run -a -s "-screen 0 1600x1000x24" "$weft" "${args[@]}" --screenshot "$shot" --after 6000
