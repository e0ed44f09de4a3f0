import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readTrainConfig, parseTrainConfig, resolveModelSpec } from '../src/training/config.js';
import { afterEpoch, initialScheduleState, learningRateAt, trackBest, initialStoppingState } from '../src/training/schedule.js';
import { niceTicks } from '../src/training/curve.js';
import { splitForDev } from '../src/training/trainer.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { randomKeypointSet } from './helpers.js';

test('every shipped config in configs/ parses and names a model that resolves', async () => {
  const dir = join(PACKAGE_ROOT, 'configs');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 2);
  for (const file of files) {
    const config = await readTrainConfig(join(dir, file));
    const spec = await resolveModelSpec(config);
    assert.equal(spec.outputs, 30, file);
  }
});

test('config defaults are filled in and relative paths are taken from the config folder', () => {
  const config = parseTrainConfig({ data: { train: 'a.csv' } }, '/cfg/x.json', '/cfg');
  assert.equal(config.data.train, '/cfg/a.csv');
  assert.equal(config.data.devFraction, 0.1);
  assert.equal(config.model, 'baseline');
  assert.deepEqual(config.schedule, { type: 'constant' });
  assert.equal(config.augment.flip, false);
  assert.throws(() => parseTrainConfig({ data: { train: 'a.csv' }, augment: { rotate: 5 } }, '/cfg/x.json', '/cfg'), /field "augment\.rotate": unknown setting/);
  assert.throws(() => parseTrainConfig({}, '/cfg/x.json', '/cfg'), /field "data": is required/);
});

test('learning-rate schedules: step, cosine and reduce-on-plateau', () => {
  const state = initialScheduleState();
  const step = { type: 'step' as const, stepSize: 10, gamma: 0.5 };
  assert.deepEqual([0, 9, 10, 25].map((e) => learningRateAt(step, 0.1, e, 30, state)), [0.1, 0.1, 0.05, 0.025]);
  const cosine = { type: 'cosine' as const, minLearningRate: 0.01 };
  assert.equal(learningRateAt(cosine, 0.1, 0, 10, state), 0.1);
  assert.ok(Math.abs(learningRateAt(cosine, 0.1, 5, 10, state) - 0.055) < 1e-12);
  const plateau = { type: 'plateau' as const, factor: 0.5, patience: 1, minLearningRate: 0.02, minDelta: 0 };
  let s = state;
  const rates: number[] = [];
  for (const dev of [5, 4, 4.5, 4.2, 4.1, 4.3, 4.4, 4.5, 4.6]) {
    rates.push(learningRateAt(plateau, 0.1, rates.length, 20, s));
    s = afterEpoch(plateau, s, dev);
  }
  // Two epochs without a new best (patience 1) halve the rate; it never drops below the minimum.
  assert.deepEqual(rates, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02]);
  assert.equal(learningRateAt(plateau, 0.1, 9, 20, afterEpoch(plateau, afterEpoch(plateau, s, 9), 9)), 0.02);
});

test('early stopping tracks the best dev RMSE and counts epochs without improvement', () => {
  let state = initialStoppingState();
  const improved: boolean[] = [];
  [3, 2, 2.05, 1.95, 1.99].forEach((dev, i) => {
    const r = trackBest(state, dev, i + 1, 0.1);
    state = r.state;
    improved.push(r.improved);
  });
  assert.deepEqual(improved, [true, true, false, false, false]);
  assert.deepEqual(state, { best: 2, bestEpoch: 2, badEpochs: 3 });
});

test('learning-curve ticks cover the data; the dev split is seeded and disjoint', () => {
  assert.deepEqual(niceTicks(0, 28.7), [0, 10, 20, 30]);
  assert.deepEqual(niceTicks(0, 3.1), [0, 1, 2, 3, 4]);
  const set = randomKeypointSet(50, 3);
  const a = splitForDev(set, 0.2, 7);
  const b = splitForDev(set, 0.2, 7);
  assert.equal(a.dev.size, 10);
  assert.equal(a.train.size, 40);
  assert.deepEqual(a.dev.keypoints, b.dev.keypoints);
  assert.notDeepEqual(splitForDev(set, 0.2, 8).dev.keypoints, a.dev.keypoints);
});
