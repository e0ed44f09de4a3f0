#!/usr/bin/env bash
# Debian 12 packages fkd needs: a C++ toolchain and libtorch for the training engine,
# Chromium for the web page's browser test, PyTorch and pandas for the benchmarks' peers,
# fonts for drawing labels. OpenBLAS: libtorch's dense layers and PyTorch's matrix products run
# through the system BLAS, and Debian's reference libblas3 made training about 3x slower.
# Runs apt as root, or through sudo.
set -euo pipefail
packages=(build-essential python3 libtorch-dev libopenblas0-pthread python3-torch python3-pandas fonts-dejavu-core chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
