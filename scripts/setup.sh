#!/usr/bin/env bash
# Quick start, step 1: install everything, then run the main job on the bundled defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci
# The main job: find the faces and keypoints in the bundled sample photo with the bundled model.
npx fkd predict samples/astronaut.png --out out/quickstart
echo "keypoints: out/quickstart/astronaut.keypoints.json, picture: out/quickstart/astronaut.annotated.jpg"
