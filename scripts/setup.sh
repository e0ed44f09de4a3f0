#!/usr/bin/env bash
# Quick start, step 1: install everything, then run the main job on the bundled defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci
# The main job: build the YTF-15 benchmark data from ../shared/data (or $FKD_DATA) and look at it.
npx fkd data build-ytf15 --out data/ytf15
npx fkd data stats data/ytf15/training.csv
npx fkd data show data/ytf15/training.csv --complete --out data/ytf15/training.png
