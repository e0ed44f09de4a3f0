#!/usr/bin/env bash
# Reproduce the seed's path on YTF-15, step by step: each step trains (or resumes) in
# runs/<name>, is recorded in runs/registry.sqlite, and is scored on dev and test.
# Safe to rerun after a stop: finished steps are skipped, interrupted ones resume.
set -euo pipefail
cd "$(dirname "$0")/.."
fkd() { node bin/fkd.js "$@"; }
[ -f data/ytf15/training.csv ] || fkd data build-ytf15 --out data/ytf15

train_step() { # config
  local config=$1 name
  name=$(node -e "console.log(require('./$config').name)")
  if [ -f "runs/$name/last.fkd" ]; then
    fkd train --resume "runs/$name"
  else
    fkd train --config "$config" --out "runs/$name"
  fi
  score "runs/$name"
}

score() { # run dir
  fkd evaluate "$1" --data data/ytf15/dev.csv --split dev --no-report
  fkd evaluate "$1" --data data/ytf15/test.csv --split test
}

train_step configs/seed/01-baseline.json
train_step configs/seed/02-selu.json
train_step configs/seed/03-selu-rotation.json
fkd fill --config configs/seed/04-selu-rotation-fill.json --rounds 3 --out runs/seed-04-selu-rotation-fill
for round in 0 1 2 3; do score "runs/seed-04-selu-rotation-fill/round-$round"; done

# The seed-path table (dev and test MSE/RMSE per step) and the learning curves in one picture.
fkd runs compare seed-01-baseline seed-02-selu seed-03-selu-rotation \
  seed-04-selu-rotation-fill-round-0 seed-04-selu-rotation-fill-round-1 \
  seed-04-selu-rotation-fill-round-2 seed-04-selu-rotation-fill-round-3 --plot runs/seed-path.png
