import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fillMissing } from '../src/training/fill.js';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { writeKaggleTest, writeKaggleTraining } from '../src/data/kaggle/write.js';
import { readKaggleTraining } from '../src/data/kaggle/read.js';
import { Registry } from '../src/registry/registry.js';
import { randomKeypointSet, runCli, tempDir } from './helpers.js';


/** dir/config.json: one epoch of a tiny network on dir/train.csv, chosen on dir/dev.csv. */
async function writeTinyFillConfig(dir: string, name: string, batchSize: number): Promise<void> {
  const model = { inputSize: 96, outputs: 30, layers: [{ type: 'maxpool', size: 8 }, { type: 'flatten' }, { type: 'dense', units: 30 }] };
  await writeFile(join(dir, 'config.json'), JSON.stringify({ name, model, data: { train: 'train.csv', dev: 'dev.csv' }, epochs: 1, batchSize, threads: 1 }));
}

test('fillMissing keeps every label, fills only the missing values, flags them, and appends unlabelled faces', () => {
  const train = randomKeypointSet(3, 9);
  const predictions = Float64Array.from({ length: 90 }, (_, i) => 1000 + i);
  const unlabelled = { size: 2, imageIds: Int32Array.of(1, 2), images: new Uint8Array(2 * FACE_PIXELS).fill(7) };
  const unlabelledPredictions = Float64Array.from({ length: 60 }, (_, i) => 2000 + i);
  const filled = fillMissing(train, predictions, unlabelled, unlabelledPredictions);
  assert.equal(filled.size, 5);
  for (let i = 0; i < 90; i++) {
    const missing = Number.isNaN(train.keypoints[i]);
    assert.equal(filled.keypoints[i], missing ? 1000 + i : train.keypoints[i]);
    assert.equal(filled.predicted![i], missing ? 1 : 0);
  }
  assert.deepEqual(Array.from(filled.keypoints.subarray(90)), Array.from(unlabelledPredictions));
  assert.ok(filled.predicted!.subarray(90).every((f) => f === 1));
  assert.equal(filled.images[3 * FACE_PIXELS], 7);
});

test('fkd fill: round 0 on complete rows, then filled rounds with a Predicted column; registry chain; a rerun continues', async (t) => {
  const dir = await tempDir(t);
  const train = randomKeypointSet(48, 3);
  // Make 16 rows complete so round 0 has something to start from.
  for (let r = 0; r < 16; r++) for (let c = 0; c < 30; c++) if (Number.isNaN(train.keypoints[r * 30 + c])) train.keypoints[r * 30 + c] = 48;
  const completeBefore = 16;
  await writeKaggleTraining(join(dir, 'train.csv'), train);
  await writeKaggleTraining(join(dir, 'dev.csv'), randomKeypointSet(8, 4));
  await writeKaggleTest(join(dir, 'unlabelled.csv'), { size: 4, imageIds: Int32Array.of(1, 2, 3, 4), images: new Uint8Array(4 * FACE_PIXELS).fill(100) });
  await writeTinyFillConfig(dir, 'fill-test', 16);
  const out = join(dir, 'fill');
  const registryPath = join(dir, 'registry.sqlite');
  const args = ['fill', '--config', join(dir, 'config.json'), '--rounds', '2', '--unlabelled', join(dir, 'unlabelled.csv'), '--out', out, '--registry', registryPath];
  const result = await runCli(args);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /training: .*16 train \/ 8 dev faces/, 'round 0 trains on the complete rows only');
  for (const round of [0, 1, 2]) assert.ok(existsSync(join(out, `round-${round}`, 'best.fkd')));

  const filled = await readKaggleTraining(join(out, 'filled-round-2.csv'));
  assert.equal(filled.size, 48 + 4);
  assert.ok(filled.keypoints.every((v) => !Number.isNaN(v)), 'nothing left missing');
  for (let i = 0; i < 48 * 30; i++) {
    if (!Number.isNaN(train.keypoints[i])) {
      assert.equal(filled.keypoints[i], train.keypoints[i]);
      assert.equal(filled.predicted![i], 0);
    } else assert.equal(filled.predicted![i], 1);
  }
  assert.ok(filled.predicted!.subarray(48 * 30).every((f) => f === 1));
  assert.match(result.stdout, new RegExp(`\\n\\s*2\\s+52\\s+${(48 - completeBefore) * 30 - Array.from(train.keypoints.subarray(completeBefore * 30)).filter((v) => !Number.isNaN(v)).length + 4 * 30}\\s`));

  const registry = Registry.open(registryPath);
  const runs = registry.listRuns().sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(runs.map((r) => r.name), ['fill-test-round-0', 'fill-test-round-1', 'fill-test-round-2']);
  assert.equal(runs[1].parent, runs[0].id);
  assert.equal(runs[2].parent, runs[1].id);
  assert.ok(runs.every((r) => r.kind === 'fill-round' && r.status === 'finished'));
  registry.close();

  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /training:/, 'finished rounds are not retrained');
});

test('fkd fill without a dev set or complete rows is a clear error', async (t) => {
  const dir = await tempDir(t);
  await writeKaggleTraining(join(dir, 'train.csv'), randomKeypointSet(4, 1));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ name: 'x', model: 'baseline', data: { train: 'train.csv' } }));
  const result = await runCli(['fill', '--config', join(dir, 'config.json'), '--out', join(dir, 'o'), '--no-registry']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /needs data\.dev/);
});

test('fkd fill --first-round all: round 0 trains on every row (sparse ones masked), even without complete rows', async (t) => {
  const dir = await tempDir(t);
  const train = randomKeypointSet(24, 5);
  // No complete row at all: the seed's way could not start, the masked way can.
  for (let r = 0; r < 24; r++) train.keypoints[r * 30] = Number.NaN;
  await writeKaggleTraining(join(dir, 'train.csv'), train);
  await writeKaggleTraining(join(dir, 'dev.csv'), randomKeypointSet(8, 6));
  await writeTinyFillConfig(dir, 'fill-all', 8);
  const out = join(dir, 'fill');
  const base = ['fill', '--config', join(dir, 'config.json'), '--rounds', '1', '--out', out, '--no-registry'];
  const seedWay = await runCli(base);
  assert.equal(seedWay.code, 2);
  assert.match(seedWay.stderr, /fully labelled rows to start from/);

  const result = await runCli([...base, '--first-round', 'all']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /round 0: every row, missing points masked/);
  assert.match(result.stdout, /training: .*24 train \/ 8 dev faces/);
  const filled = await readKaggleTraining(join(out, 'filled-round-1.csv'));
  assert.equal(filled.size, 24);
  for (let r = 0; r < 24; r++) assert.equal(filled.predicted![r * 30], 1, 'the missing coordinate was filled');

  const bad = await runCli([...base, '--first-round', 'some']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--first-round must be 'complete' or 'all'/);
});
