/**
 * 68-point (iBUG 300-W, schema ibug68) models end to end: data built under the YTF-15 protocol
 * with every point, training with schema ibug68, evaluation with NME, photo prediction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { readKaggleTest, readKaggleTraining } from '../src/data/kaggle/read.js';
import { writeKaggleTraining } from '../src/data/kaggle/write.js';
import { FACE_SIZE, type KeypointSet } from '../src/data/dataset.js';
import { imagePointsToCrop, protocolFaceBox } from '../src/data/crop.js';
import { parseYtf68Csv } from '../src/data/landmarks/ytf68.js';
import { IBUG68, YTF15_MAPPING, flipPermutation, mapPoints } from '../src/schema/index.js';
import { namedSpec, validateModelSpec } from '../src/models/spec.js';
import { readModelFile } from '../src/models/file.js';
import { TorchModel } from '../src/models/torch-model.js';
import { readTrainConfig, resolveModelSpec, parseTrainConfig, specForSchema } from '../src/training/config.js';
import { exportOnnx } from '../src/inference/onnx/export.js';
import { KeypointPipeline } from '../src/inference/pipeline.js';
import { createServer } from '../src/serving/index.js';
import type { KeypointsResponse, ModelsResponse } from '../src/serving/api-types.js';
import type { PhotoJson } from '../src/inference/photo/photo-json.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { randomKeypointSet, runCli, sharedData, tempDir } from './helpers.js';
import { SMALL_SPEC, randomTorchModel } from './onnx-fixtures.js';
import { fixturePoints, makeYtf68Fixture } from './ytf68-fixture.js';

const SAMPLE = resolve(PACKAGE_ROOT, 'samples', 'astronaut.png');
const IBUG_METADATA = { schema: 'ibug68', pointCount: 68, normalization: 'unit-v1' } as const;


/** A random 68-point set with every point labelled (so that every face has an NME). */
function complete68(size: number, seed: number): KeypointSet {
  const set = randomKeypointSet(size, seed, 68);
  set.keypoints.forEach((v, i) => {
    if (Number.isNaN(v)) set.keypoints[i] = 20 + ((i * 37) % 56);
  });
  return set;
}

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

  // stats and show follow the file's schema.
  const stats = await runCli(['data', 'stats', join(out68, 'training.csv'), '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const parsed = JSON.parse(stats.stdout);
  assert.deepEqual(parsed.perKeypoint.map((k: { name: string }) => k.name), IBUG68.points);
  assert.equal(parsed.completeRows, 3);
  const sheet = join(dir, 'sheet.png');
  const shown = await runCli(['data', 'show', join(out68, 'training.csv'), '--out', sheet, '--complete']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /3 faces/);

  const bad = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', join(dir, 'x'), '--points', '30']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--points must be 15 or 68/);
  const full = await runCli(['data', 'build-ytf15', '--ytf68', ytf, '--out', join(dir, 'x'), '--points', '68', '--full-size']);
  assert.equal(full.code, 2);
  assert.match(full.stderr, /--full-size .* cannot be combined with --points 68/);
});

test('schema ibug68: flip pairs are the 300-W mirror pairs, and mirroring real faces maps the mean shape onto itself', async (t) => {
  const perm = flipPermutation(IBUG68);
  const expectedPairs = [
    ...Array.from({ length: 8 }, (_, i) => [i, 16 - i]), // jaw
    ...Array.from({ length: 5 }, (_, i) => [17 + i, 26 - i]), // brows
    [31, 35], [32, 34], // nostrils
    [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46], // eyes
    [48, 54], [49, 53], [50, 52], [55, 59], [56, 58], // outer lip
    [60, 64], [61, 63], [65, 67], // inner lip
  ];
  const expected = Array.from({ length: 68 }, (_, i) => i);
  for (const [a, b] of expectedPairs) [expected[a], expected[b]] = [b, a];
  assert.deepEqual(perm, expected);
  assert.deepEqual(IBUG68.normalisingPair, [36, 45]);
  assert.deepEqual([IBUG68.points[36], IBUG68.points[45]], ['right_eye_0', 'left_eye_3']);

  const dir = sharedData(t, 'ytf68');
  if (!dir) return;
  const csv = join(dir, 'training_frames_keypoints.csv');
  const rows = parseYtf68Csv(await readFile(csv, 'utf8'), csv);
  const mean = new Float64Array(136);
  const mirroredMean = new Float64Array(136);
  for (const row of rows) {
    const crop = imagePointsToCrop(protocolFaceBox(row.points), row.points);
    for (let p = 0; p < 68; p++) {
      mean[2 * p] += crop[2 * p] / rows.length;
      mean[2 * p + 1] += crop[2 * p + 1] / rows.length;
      // Mirror the crop (u → 95 − u); point p of the mirrored face is point perm[p] of the face.
      mirroredMean[2 * p] += (FACE_SIZE - 1 - crop[2 * perm[p]]) / rows.length;
      mirroredMean[2 * p + 1] += crop[2 * perm[p] + 1] / rows.length;
    }
  }
  // The mean face sits slightly off centre (pose bias): compare shapes, not positions.
  let shift = 0;
  for (let p = 0; p < 68; p++) shift += (mean[2 * p] - mirroredMean[2 * p]) / 68;
  for (let p = 0; p < 68; p++) mirroredMean[2 * p] += shift;
  const distance = (p: number, q: number): number => Math.hypot(mirroredMean[2 * p] - mean[2 * q], mirroredMean[2 * p + 1] - mean[2 * q + 1]);
  for (let p = 0; p < 68; p++) {
    const own = distance(p, p);
    const nearestOther = Math.min(...Array.from({ length: 68 }, (_, q) => (q === p ? Infinity : distance(p, q))));
    assert.ok(own < 2.5 && own < nearestOther, `point ${p} (${IBUG68.points[p]}) mirrored lands ${own.toFixed(2)} px from itself, ${nearestOther.toFixed(2)} px from another point`);
  }
});

test('the model head follows the config schema: "model": "baseline" with "schema": "ibug68" predicts 136 values', async () => {
  const config = await readTrainConfig(join(PACKAGE_ROOT, 'configs', 'ytf68', 'baseline-augmented-68.json'));
  assert.equal(config.schema, 'ibug68');
  assert.equal(config.epochs, 60);
  assert.equal(config.data.train, resolve(PACKAGE_ROOT, 'data', 'ytf68crop', 'training.csv'));
  assert.equal(config.data.dev, resolve(PACKAGE_ROOT, 'data', 'ytf68crop', 'dev.csv'));
  const beyond = await readTrainConfig(join(PACKAGE_ROOT, 'configs', 'beyond', 'baseline-augmented.json'));
  for (const key of ['model', 'augment', 'optimizer', 'schedule', 'earlyStopping', 'batchSize', 'seed'] as const) assert.deepEqual(config[key], beyond[key], key);

  const spec = await resolveModelSpec(config);
  const baseline = namedSpec('baseline')!;
  assert.equal(spec.outputs, 136);
  assert.deepEqual(spec.layers.at(-1), { type: 'dense', units: 136 });
  assert.deepEqual(spec.layers.slice(0, -1), baseline.layers.slice(0, -1), 'the rest of the network is unchanged');
  assert.equal(baseline.outputs, 30, 'the shipped spec itself is untouched');
  assert.equal((await resolveModelSpec(beyond)).outputs, 30);

  const heatmap = specForSchema(namedSpec('heatmap')!, 'ibug68');
  assert.equal(heatmap.outputs, 136);
  assert.deepEqual(heatmap.layers.at(-2), { type: 'conv', filters: 68, kernel: 1 });
  const pooled = validateModelSpec({ inputSize: 96, outputs: 30, layers: [{ type: 'conv', filters: 30, kernel: 3 }, { type: 'globalAvgPool' }] });
  assert.throws(() => specForSchema(pooled, 'ibug68'), /ends in a globalAvgPool layer, so its head cannot be sized for schema ibug68 \(136 values\)/);
  assert.throws(() => parseTrainConfig({ schema: 'ibug98', data: { train: 'a.csv' } }, '/c/x.json', '/c'), /field "schema": must be one of kaggle15, ibug68/);
});

test('68 points end to end: fkd train (schema ibug68), evaluate with NME and a 68-point report, export, predict a photo', async (t) => {
  const dir = await tempDir(t);
  await writeKaggleTraining(join(dir, 'train.csv'), randomKeypointSet(24, 1, 68));
  await writeKaggleTraining(join(dir, 'dev.csv'), complete68(6, 2));
  await writeKaggleTraining(join(dir, 'kaggle.csv'), randomKeypointSet(3, 3));
  const configPath = join(dir, 'config.json');
  const config = {
    name: 'ibug68-tiny',
    model: SMALL_SPEC, // written for Kaggle's 30 outputs: the config's schema resizes its head
    schema: 'ibug68',
    data: { train: 'train.csv', dev: 'dev.csv' },
    epochs: 2,
    batchSize: 8,
    threads: 1,
    augment: { flip: true, rotation: 5 },
  };
  await writeFile(configPath, JSON.stringify(config));
  const runDir = join(dir, 'run');
  const trained = await runCli(['train', '--config', configPath, '--out', runDir, '--no-registry']);
  assert.equal(trained.code, 0, trained.stderr);
  const best = await readModelFile(join(runDir, 'best.fkd'));
  assert.equal(best.metadata.schema, 'ibug68');
  assert.equal(best.metadata.pointCount, 68);
  assert.equal(best.spec.outputs, 136);
  assert.deepEqual(best.spec.layers.at(-1), { type: 'dense', units: 136 });

  // A Kaggle file cannot be read with schema ibug68.
  await writeFile(join(dir, 'wrong.json'), JSON.stringify({ ...config, data: { train: 'kaggle.csv', dev: 'dev.csv' } }));
  const wrongTrain = await runCli(['train', '--config', join(dir, 'wrong.json'), '--out', join(dir, 'wrong'), '--no-registry']);
  assert.equal(wrongTrain.code, 2);
  assert.match(wrongTrain.stderr, /kaggle\.csv.*has 15 keypoints per face but schema ibug68 has 68/);

  // Evaluate: figures against an independent computation, NME with the outer eye corners 36 and 45.
  const dev = await readKaggleTraining(join(dir, 'dev.csv'));
  const predictions = await (await TorchModel.load(join(runDir, 'best.fkd'))).predict(dev.images, dev.size);
  let sumSq = 0;
  let nme = 0;
  for (let f = 0; f < dev.size; f++) {
    const at = (c: number): number => f * 136 + c;
    let dist = 0;
    for (let p = 0; p < 68; p++) {
      const dx = predictions[at(2 * p)] - dev.keypoints[at(2 * p)];
      const dy = predictions[at(2 * p + 1)] - dev.keypoints[at(2 * p + 1)];
      sumSq += dx * dx + dy * dy;
      dist += Math.hypot(dx, dy);
    }
    const eyes = Math.hypot(dev.keypoints[at(72)] - dev.keypoints[at(90)], dev.keypoints[at(73)] - dev.keypoints[at(91)]);
    nme += dist / 68 / eyes / dev.size;
  }
  const rmse = Math.sqrt(sumSq / (dev.size * 136));
  const report = join(dir, 'report');
  const evaluated = await runCli(['evaluate', runDir, '--data', join(dir, 'dev.csv'), '--split', 'dev', '--report', report, '--json']);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  const figures = JSON.parse(evaluated.stdout);
  assert.equal(figures.split, 'dev');
  assert.equal(figures.faces, 6);
  assert.equal(figures.coordinates, 6 * 136);
  assert.ok(Math.abs(figures.rmse - rmse) < 1e-4, `RMSE ${figures.rmse} vs ${rmse}`);
  assert.ok(Math.abs(figures.mse - rmse * rmse) < 1e-3);
  assert.ok(Math.abs(figures.nme - nme) < 1e-5, `NME ${figures.nme} vs ${nme}`);
  assert.equal(figures.perKeypoint.length, 68);
  assert.equal(figures.perKeypoint[36].name, 'right_eye_0');
  const html = await readFile(join(report, 'index.html'), 'utf8');
  const table = html.slice(html.indexOf('id="per-keypoint"'), html.indexOf('</table>', html.indexOf('id="per-keypoint"')));
  assert.equal((table.match(/<tr><td>/g) ?? []).length, 68, 'a row per keypoint');
  assert.match(html, /68 keypoints \(schema ibug68\).*right_eye_0 to left_eye_3/);
  assert.equal((html.match(/<svg/g) ?? []).length, 4, 'per-keypoint bars, CED, histogram, learning curves');
  assert.match(html, />inner_lip_7</, 'the per-keypoint bars name all 68 points');
  const worst = await sharp(join(report, 'worst-faces.png')).metadata();
  assert.equal(worst.width, 4 * 96 * 3);
  assert.ok(worst.height! > 2 * 96 * 3, 'two rows of faces and the 68-name legend');

  const mismatch = await runCli(['evaluate', runDir, '--data', join(dir, 'kaggle.csv'), '--no-report']);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /predicts 68 ibug68 keypoints; .*kaggle\.csv holds 15 kaggle15 keypoints per face/);

  // Export to ONNX; evaluate the ONNX file (same figures) and run it on a photo.
  const onnx = join(dir, 'ibug68.onnx');
  const exported = await runCli(['export', runDir, '--onnx', onnx]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /68 ibug68 keypoints/);
  const onnxFigures = await runCli(['evaluate', onnx, '--data', join(dir, 'dev.csv'), '--no-report', '--json']);
  assert.equal(onnxFigures.code, 0, onnxFigures.stderr);
  assert.ok(Math.abs(JSON.parse(onnxFigures.stdout).nme - figures.nme) < 1e-4);

  const out = join(dir, 'photos');
  const predicted = await runCli(['predict', SAMPLE, '--model', onnx, '--out', out, '--json', '--threads', '1']);
  assert.equal(predicted.code, 0, predicted.stderr);
  const doc = JSON.parse(await readFile(join(out, 'astronaut.keypoints.json'), 'utf8')) as PhotoJson;
  assert.equal(doc.model.schema, 'ibug68');
  assert.equal(doc.faces.length, 1, 'the sample photo has one face');
  assert.deepEqual(doc.faces[0].keypoints.map((k) => k.name), IBUG68.points);
  for (const k of doc.faces[0].keypoints) assert.ok(Number.isFinite(k.x) && Number.isFinite(k.y), k.name);
  assert.ok(existsSync(join(out, 'astronaut.annotated.jpg')));
});

test('fkd serve\'s API with a 68-point ONNX model: 68 named keypoints per face, the model described with 68 points and colours', async (t) => {
  const dir = await tempDir(t);
  const model = randomTorchModel(specForSchema(SMALL_SPEC, 'ibug68'), 3, { ...IBUG_METADATA });
  const file = join(dir, 'ibug68.onnx');
  await writeFile(file, exportOnnx(model.spec, model.native.getState(), { ...IBUG_METADATA }));
  const pipeline = await KeypointPipeline.load({ model: file, threads: 1 });
  const server = await createServer({ pipeline });
  t.after(async () => {
    await server.close();
    await pipeline.close();
  });
  const base = await server.listen({ host: '127.0.0.1', port: 0 });
  const response = await fetch(`${base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(await readFile(SAMPLE)) });
  assert.equal(response.status, 200);
  const answer = (await response.json()) as KeypointsResponse;
  assert.equal(answer.model.schema, 'ibug68');
  assert.equal(answer.faces.length, 1);
  assert.deepEqual(answer.faces[0].keypoints.map((k) => k.name), IBUG68.points);
  const models = (await (await fetch(`${base}/v1/models`)).json()) as ModelsResponse;
  assert.deepEqual(models.models[0].points, IBUG68.points);
  assert.deepEqual(models.models[0].colours, IBUG68.colours);
});
