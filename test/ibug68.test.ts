/**
 * 68-point (iBUG 300-W, schema ibug68) models end to end: data built under the YTF-15 protocol
 * with every point, training with schema ibug68, evaluation with NME, photo prediction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readKaggleTest, readKaggleTraining } from '../src/data/kaggle/read.js';
import { IBUG68, YTF15_MAPPING, mapPoints } from '../src/schema/index.js';
import { runCli, tempDir } from './helpers.js';
import { fixturePoints, makeYtf68Fixture } from './ytf68-fixture.js';

/** The protocol's crop coordinates of one of the 68 points, from the data README's formula. */
function expectedCropPoint(points: Float64Array, p: number): [number, number] {
  const xs = Array.from({ length: 68 }, (_, i) => points[2 * i]);
  const ys = Array.from({ length: 68 }, (_, i) => points[2 * i + 1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const s = 1.25 * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  return [((points[2 * p] - (cx - s / 2)) * 96) / s - 0.5, ((points[2 * p + 1] - (cy - s / 2)) * 96) / s - 0.5];
}

test('fkd data build-ytf15 --points 68: the same crops and split with all 68 points on every row', async (t) => {
  const dir = await tempDir(t);
  const ytf = join(dir, 'ytf68');
  await makeYtf68Fixture(ytf);
  const out68 = join(dir, 'ytf68crop');
  const out15 = join(dir, 'ytf15');
  const built = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', out68, '--points', '68']);
  assert.equal(built.code, 0, built.stderr);
  assert.equal((await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', out15])).code, 0);
  assert.deepEqual((await readdir(out68)).sort(), ['dev.csv', 'manifest.json', 'sources.csv', 'test.csv', 'training.csv', 'unlabelled.csv']);

  const header = (await readFile(join(out68, 'training.csv'), 'utf8')).slice(0, 40);
  assert.ok(header.startsWith('jaw_0_x,jaw_0_y,jaw_1_x'), header);
  const training = await readKaggleTraining(join(out68, 'training.csv'));
  assert.equal(training.schema, 'ibug68');
  assert.equal(training.size, 3);
  // No sparse cutting: the kaggle_sparse row (training/Ann_01, row 2) keeps all 68 points.
  assert.ok(training.keypoints.every((v) => !Number.isNaN(v)), 'every label kept');

  // Rows in path order: test/Ann_02 (fixture 2), training/Ann_00 (0), training/Ann_01 (1).
  const fixtureOfRow = [2, 0, 1];
  for (const [row, fixture] of fixtureOfRow.entries()) {
    for (const p of [0, 8, 30, 36, 45, 48, 67]) {
      const [u, v] = expectedCropPoint(fixturePoints(fixture), p);
      assert.ok(Math.abs(training.keypoints[row * 136 + 2 * p] - u) < 1e-9, `row ${row} point ${p} x`);
      assert.ok(Math.abs(training.keypoints[row * 136 + 2 * p + 1] - v) < 1e-9, `row ${row} point ${p} y`);
    }
  }

  // The same faces as the 15-point files: identical pixels, and the 68 → 15 mapping of the
  // 68-point labels gives the 15-point labels.
  for (const file of ['training.csv', 'dev.csv', 'test.csv']) {
    const set68 = await readKaggleTraining(join(out68, file));
    const set15 = await readKaggleTraining(join(out15, file));
    assert.equal(set68.size, set15.size, file);
    assert.ok(Buffer.from(set68.images).equals(Buffer.from(set15.images)), `${file}: pixels`);
    for (let r = 0; r < set68.size; r++) {
      const mapped = mapPoints(YTF15_MAPPING, set68.keypoints.subarray(r * 136, (r + 1) * 136));
      mapped.forEach((value, c) => {
        const expected = set15.keypoints[r * 30 + c];
        if (!Number.isNaN(expected)) assert.ok(Math.abs(value - expected) < 1e-9, `${file} row ${r} coordinate ${c}`);
      });
    }
  }
  const unlabelled68 = await readKaggleTest(join(out68, 'unlabelled.csv'));
  const unlabelled15 = await readKaggleTest(join(out15, 'unlabelled.csv'));
  assert.ok(Buffer.from(unlabelled68.images).equals(Buffer.from(unlabelled15.images)));
  const manifest = JSON.parse(await readFile(join(out68, 'manifest.json'), 'utf8'));
  assert.equal(manifest.points, 68);
  assert.equal(manifest.schema, IBUG68.name);
  assert.equal(manifest.completeTrainingRows, 3);

  const bad = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', join(dir, 'x'), '--points', '30']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--points must be 15 or 68/);
  const full = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', join(dir, 'x'), '--points', '68', '--full-size']);
  assert.equal(full.code, 2);
  assert.match(full.stderr, /--full-size .* cannot be combined with --points 68/);
});
