import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { evaluateKeypoints, worstFaces } from '../src/evaluation/metrics.js';
import { KAGGLE15 } from '../src/schema/index.js';
import { TorchModel } from '../src/models/torch-model.js';
import { namedSpec } from '../src/models/spec.js';
import { writeKaggleTraining } from '../src/data/kaggle/write.js';
import { Registry } from '../src/registry/registry.js';
import { randomKeypointSet, runCli, tempDir } from './helpers.js';

test('metrics: RMSE over labelled coordinates only, per keypoint, NME by outer eye corners, CED and failure rate', () => {
  // Two faces; face 0 has every point 1 px off in x; face 1 misses nose_tip and is 3 px off in y.
  const labels = new Float64Array(60);
  for (let p = 0; p < 15; p++) {
    labels[2 * p] = 10 + 4 * p;
    labels[2 * p + 1] = 40;
    labels[30 + 2 * p] = 10 + 4 * p;
    labels[30 + 2 * p + 1] = 40;
  }
  labels[30 + 20] = Number.NaN;
  labels[30 + 21] = Number.NaN;
  const predictions = Float64Array.from(labels, (v) => (Number.isNaN(v) ? 999 : v));
  for (let p = 0; p < 15; p++) {
    predictions[2 * p] += 1;
    predictions[30 + 2 * p + 1] += 3;
  }
  const e = evaluateKeypoints(predictions, labels, KAGGLE15);
  const coords = 30 + 28;
  const expectedMse = (15 * 1 + 14 * 9) / coords;
  assert.equal(e.coordinates, coords);
  assert.ok(Math.abs(e.mse - expectedMse) < 1e-12);
  assert.ok(Math.abs(e.rmse - Math.sqrt(expectedMse)) < 1e-12);
  const nose = e.perKeypoint.find((k) => k.name === 'nose_tip')!;
  assert.equal(nose.coordinates, 2);
  assert.ok(Math.abs(nose.mse - 0.5) < 1e-12, 'only face 0 scores the nose: (1 + 0) / 2');
  // Outer eye corners are points 3 and 5: x = 22 and 30, distance 8.
  assert.ok(Math.abs(e.perFace[0].nme - 1 / 8) < 1e-12);
  assert.ok(Math.abs(e.perFace[1].nme - 3 / 8) < 1e-12);
  assert.ok(Math.abs(e.nme - (1 / 8 + 3 / 8) / 2) < 1e-12);
  assert.equal(e.failureRate, 1, 'both faces have NME > 0.10');
  assert.deepEqual(worstFaces(e, 1), [1]);
  for (let k = 1; k < e.ced.length; k++) assert.ok(e.ced[k].share >= e.ced[k - 1].share);
  assert.equal(e.ced.at(-1)!.share, 0.5, 'at NME 0.2 one face of two is in');
});

test('fkd evaluate: figures match an independent computation, the report has its pictures, results land in the registry', async (t) => {
  const dir = await tempDir(t);
  const set = randomKeypointSet(40, 5);
  const data = join(dir, 'test.csv');
  await writeKaggleTraining(data, set);
  const spec = namedSpec('baseline')!;
  const model = TorchModel.create(spec, { schema: 'kaggle15', pointCount: 15, normalization: 'unit-v1' }, { seed: 3 });
  const runDir = join(dir, 'run');
  await model.save(join(runDir, 'best.fkd'));
  await writeFile(join(runDir, 'config.json'), JSON.stringify({ name: 'my-experiment' }));
  const registryPath = join(dir, 'registry.sqlite');
  const registry = Registry.open(registryPath);
  registry.startRun({ id: 'run-1', name: 'run', kind: 'train', runDir, config: {} });
  registry.close();

  const predictions = await model.predict(set.images, set.size);
  let sum = 0;
  let n = 0;
  set.keypoints.forEach((v, i) => {
    if (!Number.isNaN(v)) {
      sum += (predictions[i] - v) ** 2;
      n++;
    }
  });
  const rmse = Math.sqrt(sum / n);

  const report = join(dir, 'report');
  const result = await runCli(['evaluate', runDir, '--data', data, '--report', report, '--registry', registryPath]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`RMSE ${rmse.toFixed(4)} px`));
  assert.match(result.stdout, /recorded test results on run run-1/);
  assert.match(result.stdout, /^my-experiment on /, "a run is named by its config's name, not its folder");
  const json = JSON.parse(await readFile(join(report, 'evaluation.json'), 'utf8'));
  assert.ok(Math.abs(json.rmse - rmse) < 1e-4);
  assert.equal(json.worstRows.length, 16);
  const html = await readFile(join(report, 'index.html'), 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 3, 'per-keypoint bars, CED, histogram');
  assert.match(html, /<img id="worst-faces" alt="worst faces" src="data:image\/png;base64,/);
  const worst = await sharp(join(report, 'worst-faces.png')).metadata();
  assert.equal(worst.width, 4 * 96 * 3);
  const stored = Registry.open(registryPath);
  t.after(() => stored.close());
  assert.ok(Math.abs(stored.getRun('run-1')!.results.test.rmse - rmse) < 1e-4);
});

test('fkd evaluate: a file that is no model is a clear error', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'test.csv');
  await writeKaggleTraining(data, randomKeypointSet(2, 1));
  const result = await runCli(['evaluate', data, '--data', data, '--no-report']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /test\.csv/);
  const missing = await runCli(['evaluate', join(dir, 'nope'), '--data', data]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such run directory or model file/);
});
