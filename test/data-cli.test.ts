import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { readKaggleTest, readKaggleTraining } from '../src/data/kaggle/read.js';
import { writeKaggleTraining } from '../src/data/kaggle/write.js';
import { KAGGLE_COORD_COLUMNS } from '../src/data/kaggle/columns.js';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { KAGGLE15 } from '../src/schema/index.js';
import { runCli, sharedData, tempDir } from './helpers.js';
import { fixturePoints, makeYtf68Fixture } from './ytf68-fixture.js';

/** The protocol's crop coordinates of a Kaggle point, computed here from the README's rules. */
function expectedCropPoint(points: Float64Array, sources: number[]): [number, number] {
  const xs = Array.from({ length: 68 }, (_, i) => points[2 * i]);
  const ys = Array.from({ length: 68 }, (_, i) => points[2 * i + 1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const s = 1.25 * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const x = sources.reduce((sum, i) => sum + points[2 * i], 0) / sources.length;
  const y = sources.reduce((sum, i) => sum + points[2 * i + 1], 0) / sources.length;
  return [((x - (cx - s / 2)) * 96) / s - 0.5, ((y - (cy - s / 2)) * 96) / s - 0.5];
}

test('fkd data build-ytf15 on a small ytf68-shaped folder: files, splits, sparse rows, keypoints', async (t) => {
  const dir = await tempDir(t);
  const ytf = join(dir, 'ytf68');
  await makeYtf68Fixture(ytf);
  const out = join(dir, 'out');
  const result = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', out]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual((await readdir(out)).sort(), ['dev.csv', 'manifest.json', 'sources.csv', 'test.csv', 'training.csv', 'unlabelled.csv']);

  const training = await readKaggleTraining(join(out, 'training.csv'));
  assert.equal(training.size, 3);
  // Rows are in path order: test/Ann_02, training/Ann_00, training/Ann_01 (the kaggle_sparse one).
  const sources = (await readFile(join(out, 'sources.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  assert.deepEqual(sources.filter((s) => s[0] === 'training.csv').map((s) => s[2]), ['test/Ann_02.jpg', 'training/Ann_00.jpg', 'training/Ann_01.jpg']);
  const present = (row: number) => KAGGLE_COORD_COLUMNS.filter((_, c) => !Number.isNaN(training.keypoints[row * 30 + c]));
  assert.equal(present(0).length, 30);
  assert.deepEqual(present(2), ['left_eye_center_x', 'left_eye_center_y', 'right_eye_center_x', 'right_eye_center_y', 'nose_tip_x', 'nose_tip_y', 'mouth_center_bottom_lip_x', 'mouth_center_bottom_lip_y']);

  // Keypoints follow the protocol: nose tip = point 30, left eye centre = mean of 42-47.
  const [noseU, noseV] = expectedCropPoint(fixturePoints(1), [30]);
  assert.ok(Math.abs(training.keypoints[2 * 30 + 20] - noseU) < 1e-9 && Math.abs(training.keypoints[2 * 30 + 21] - noseV) < 1e-9);
  const [eyeU, eyeV] = expectedCropPoint(fixturePoints(0), [42, 43, 44, 45, 46, 47]);
  assert.ok(Math.abs(training.keypoints[30] - eyeU) < 1e-9 && Math.abs(training.keypoints[31] - eyeV) < 1e-9);

  const dev = await readKaggleTraining(join(out, 'dev.csv'));
  const testSet = await readKaggleTraining(join(out, 'test.csv'));
  assert.equal(dev.size, 1);
  assert.equal(testSet.size, 1);
  assert.ok(testSet.keypoints.every((v) => !Number.isNaN(v)));
  const unlabelled = await readKaggleTest(join(out, 'unlabelled.csv'));
  assert.deepEqual(Array.from(unlabelled.imageIds), [1]);
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
  assert.equal(manifest.completeTrainingRows, 2);

  const all = join(dir, 'all');
  const withAll = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', all, '--all-labels']);
  assert.equal(withAll.code, 0, withAll.stderr);
  const allTraining = await readKaggleTraining(join(all, 'training.csv'));
  assert.ok(allTraining.keypoints.every((v) => !Number.isNaN(v)), '--all-labels keeps every label');
});

test('fkd data build-ytf15 --full-size writes 7049 rows with the given missing-label pattern', async (t) => {
  const dir = await tempDir(t);
  const ytf = join(dir, 'ytf68');
  await makeYtf68Fixture(ytf);
  // A keypoints-only pattern file: row r misses every coordinate of point r % 15.
  const header = KAGGLE_COORD_COLUMNS.join(',');
  const rows = Array.from({ length: 7049 }, (_, r) => KAGGLE_COORD_COLUMNS.map((_, c) => (Math.floor(c / 2) === r % 15 ? '' : '1')).join(','));
  const pattern = join(dir, 'pattern.csv');
  await writeFile(pattern, [header, ...rows].join('\n') + '\n');
  const out = join(dir, 'out');
  const result = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', out, '--full-size', 'big.csv', '--kaggle-keypoints', pattern]);
  assert.equal(result.code, 0, result.stderr);
  const big = await readKaggleTraining(join(out, 'big.csv'));
  assert.equal(big.size, 7049);
  for (const r of [0, 1, 14, 15, 7048]) {
    const missing = KAGGLE_COORD_COLUMNS.filter((_, c) => Number.isNaN(big.keypoints[r * 30 + c]));
    assert.deepEqual(missing, [`${KAGGLE15.points[r % 15]}_x`, `${KAGGLE15.points[r % 15]}_y`]);
  }
  const training = await readKaggleTraining(join(out, 'training.csv'));
  assert.ok(Buffer.from(big.images.subarray(3 * FACE_PIXELS, 4 * FACE_PIXELS)).equals(Buffer.from(training.images.subarray(0, FACE_PIXELS))), 'rows cycle through the train faces');
});

test('fkd data build-ytf15: an image that does not decode names the file, exits non-zero, writes nothing', async (t) => {
  const dir = await tempDir(t);
  const ytf = join(dir, 'ytf68');
  await makeYtf68Fixture(ytf);
  await truncate(join(ytf, 'test', 'Cid_00.jpg'), 300);
  const out = join(dir, 'out');
  const result = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', out]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Cid_00\.jpg/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  const left = await readdir(out).catch(() => []);
  assert.deepEqual(left, []);
});

test('fkd data build-ytf15: a bad label row names file, line and field', async (t) => {
  const dir = await tempDir(t);
  const ytf = join(dir, 'ytf68');
  await makeYtf68Fixture(ytf);
  const csv = join(ytf, 'training_frames_keypoints.csv');
  const lines = (await readFile(csv, 'utf8')).split('\n');
  lines[2] = lines[2].replace(/,(\d+),/, ',abc,');
  await writeFile(csv, lines.join('\n'));
  const result = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', join(dir, 'out')]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /training_frames_keypoints\.csv, line 3, field "\d+"/);
});

test('fkd data stats on Kaggle\'s real labels: the coverage table', async (t) => {
  const file = sharedData(t, 'kaggle/training_keypoints.csv');
  if (!file) return;
  const text = await runCli(['data', 'stats', file]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /rows: 7049/);
  assert.match(text.stdout, /complete rows \(every keypoint present\): 2140 \(30\.4 %\)/);
  assert.match(text.stdout, /left_eye_center\s+7039\s+10\s/);
  const json = await runCli(['data', 'stats', file, '--json']);
  const stats = JSON.parse(json.stdout);
  assert.equal(stats.rows, 7049);
  assert.equal(stats.perKeypoint.find((k: { name: string }) => k.name === 'nose_tip').missing, 0);
});

test('fkd data show draws each keypoint in its colour where the label says', async (t) => {
  const dir = await tempDir(t);
  const keypoints = new Float64Array(60).fill(Number.NaN);
  keypoints[20] = 10; // face 0, nose_tip at (10, 20)
  keypoints[21] = 20;
  keypoints[30 + 0] = 70; // face 1, left_eye_center at (70, 40)
  keypoints[30 + 1] = 40;
  const file = join(dir, 'faces.csv');
  await writeKaggleTraining(file, { size: 2, pointCount: 15, images: new Uint8Array(2 * FACE_PIXELS), keypoints });
  const png = join(dir, 'sheet.png');
  const result = await runCli(['data', 'show', file, '--out', png, '--scale', '4', '--columns', '2']);
  assert.equal(result.code, 0, result.stderr);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const pixel = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  assert.equal(info.width, 2 * 96 * 4);
  assert.deepEqual(pixel(Math.round(10.5 * 4), Math.round(20.5 * 4)), [255, 0, 0], 'nose_tip is red at its point');
  assert.deepEqual(pixel(96 * 4 + Math.round(70.5 * 4), Math.round(40.5 * 4)), [0, 255, 0], 'left_eye_center is lime, in the second face');
  assert.deepEqual(pixel(Math.round(50.5 * 4), Math.round(50.5 * 4)), [0, 0, 0], 'the black face elsewhere');
});

test('data CLI errors: a missing file and a malformed file exit 2 with one clear line', async (t) => {
  const dir = await tempDir(t);
  const missing = await runCli(['data', 'stats', join(dir, 'nope.csv')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.csv/);
  const bad = join(dir, 'bad.csv');
  await writeFile(bad, KAGGLE_COORD_COLUMNS.join(',') + ',Image\n' + '1,'.repeat(30) + '1 2 3\n');
  const result = await runCli(['data', 'show', bad, '--out', join(dir, 'x.png')]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /bad\.csv, line 2, field "Image": 3 pixel values/);
  assert.deepEqual((await readdir(dir)).sort(), ['bad.csv']);
  const usage = await runCli(['data', 'show', bad, '--out', join(dir, 'x.png'), '--count', 'lots']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--count must be an integer/);
});
