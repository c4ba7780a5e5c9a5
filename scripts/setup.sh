#!/usr/bin/env bash
# Installs the Debian packages llava needs to build and test, then builds it.
# Idempotent: re-running only installs what is missing and rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium + chromium-driver: the tests drive the server's chat page in headless Chromium (WebDriver).
# curl: the README's serve example, which ReadmeExamplesTests runs.
# libopenmpi-dev + openmpi-bin: data-parallel training (`mpirun -np N llava train …`) and its 2-rank test.
PACKAGES=(pkg-config libopenblas-dev libpng-dev libturbojpeg0-dev chromium chromium-driver curl libopenmpi-dev openmpi-bin)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "${LLAVA_SETUP_NO_BUILD:-0}" != "1" ]; then
    swift build -c release --product llava
    echo "built: $(swift build -c release --show-bin-path)/llava"
fi
