import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeypointModel } from '../src/inference/keypoint-model.js';
import { validateModelSpec } from '../src/models/spec.js';
import { exportOnnx } from '../src/inference/onnx/export.js';
import { compareWithEngine, VERIFY_TOLERANCE_PX } from '../src/inference/onnx/verify.js';
import { RunDirectory } from '../src/training/run-directory.js';
import { runCli, tempDir } from './helpers.js';
import { KAGGLE_METADATA, maxAbsDiff, randomTorchModel, testFaces } from './onnx-fixtures.js';

const SPEC = validateModelSpec({
  name: 'cli-test',
  inputSize: 96,
  outputs: 30,
  layers: [
    { type: 'conv', filters: 8, kernel: 5, stride: 2, padding: 'same', activation: 'relu' },
    { type: 'batchnorm' },
    { type: 'maxpool', size: 2 },
    { type: 'conv', filters: 16, kernel: 3, stride: 2, activation: 'elu' },
    { type: 'globalAvgPool' },
    { type: 'dense', units: 30 },
  ],
});

test('fkd export MODEL --onnx --verify: the ONNX model predicts what the model file predicts', async (t) => {
  const dir = await tempDir(t);
  const torch = randomTorchModel(SPEC, 9);
  const modelFile = join(dir, 'model.fkd');
  await torch.save(modelFile);
  const onnx = join(dir, 'out', 'model.onnx');
  const result = await runCli(['export', modelFile, '--onnx', onnx, '--verify']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /wrote .*model\.onnx: cli-test from .*model\.fkd, 15 kaggle15 keypoints, ONNX opset 13/);
  assert.match(result.stdout, /verified against libtorch: max difference \d\.\de[-+]\d+ px/);

  const { faces } = await testFaces(20);
  const model = await KeypointModel.load(onnx, { threads: 2 });
  try {
    assert.equal(model.info.modelName, 'cli-test');
    assert.ok(maxAbsDiff(await model.predict(faces), await torch.predict(faces, 20)) < 1e-3);
  } finally {
    await model.close();
  }
});

test('fkd export RUN --onnx: a run directory exports its best model', async (t) => {
  const dir = await tempDir(t);
  const run = new RunDirectory(join(dir, 'run'));
  await mkdir(run.dir, { recursive: true });
  const torch = randomTorchModel(SPEC, 10);
  await torch.save(run.bestModel);
  // The last checkpoint holds other weights: the export must take best.fkd.
  await randomTorchModel(SPEC, 11).save(run.lastCheckpoint);
  const onnx = join(dir, 'run.onnx');
  const result = await runCli(['export', run.dir, '--onnx', onnx]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /best\.fkd/);
  const { faces } = await testFaces(4);
  const model = await KeypointModel.load(onnx, { threads: 1 });
  try {
    assert.ok(maxAbsDiff(await model.predict(faces), await torch.predict(faces, 4)) < 1e-3);
  } finally {
    await model.close();
  }
});

test('fkd export: a missing source, a run without a best model, a file that is no model → exit 2, one line, nothing written', async (t) => {
  const dir = await tempDir(t);
  const onnx = join(dir, 'out.onnx');
  const emptyRun = join(dir, 'empty-run');
  await mkdir(emptyRun);
  const notModel = join(dir, 'notes.fkd');
  await writeFile(notModel, 'hello, not a model\n'.repeat(10));
  const cases: [string, RegExp][] = [
    [join(dir, 'absent.fkd'), /absent\.fkd: no such file or run directory/],
    [emptyRun, /empty-run: not a run directory with a best model \(no best\.fkd/],
    [notModel, /notes\.fkd: not an fkd model file/],
  ];
  for (const [source, message] of cases) {
    const result = await runCli(['export', source, '--onnx', onnx]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.ok(!existsSync(onnx), `${source}: nothing may be written`);
  }
  // An existing output survives a failed export untouched.
  await writeFile(onnx, 'previous');
  assert.equal((await runCli(['export', notModel, '--onnx', onnx])).code, 2);
  assert.equal(await readFile(onnx, 'utf8'), 'previous');
  const noTarget = await runCli(['export', notModel]);
  assert.notEqual(noTarget.code, 0);
  assert.match(noTarget.stderr, /--onnx/);
});

test('the --verify comparison tells a matching export from a mismatched one', async () => {
  const a = randomTorchModel(SPEC, 30);
  const b = randomTorchModel(SPEC, 31);
  const onnxOfA = await KeypointModel.fromBytes(exportOnnx(a.spec, a.native.getState(), a.metadata), 'a.onnx', { threads: 2 });
  try {
    assert.ok((await compareWithEngine(a.contents(), 'a.fkd', onnxOfA)) < VERIFY_TOLERANCE_PX);
    assert.ok((await compareWithEngine(b.contents(), 'b.fkd', onnxOfA)) > VERIFY_TOLERANCE_PX);
  } finally {
    await onnxOfA.close();
  }
});

test('fkd export A B --onnx --verify: an ensemble model predicts the mean of its members (different architectures allowed)', async (t) => {
  const dir = await tempDir(t);
  const other = validateModelSpec({ ...SPEC, name: 'cli-test-2', layers: [{ type: 'maxpool', size: 4 }, { type: 'flatten' }, { type: 'dense', units: 30 }] });
  const members = [randomTorchModel(SPEC, 11), randomTorchModel(other, 12)];
  const files = [join(dir, 'a.fkd'), join(dir, 'b.fkd')];
  for (let i = 0; i < 2; i++) await members[i].save(files[i]);
  const onnx = join(dir, 'ensemble.onnx');
  const result = await runCli(['export', ...files, '--onnx', onnx, '--verify']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /wrote .*ensemble\.onnx: an ensemble of 2 models from .*a\.fkd, .*b\.fkd, 15 kaggle15 keypoints/);
  assert.match(result.stdout, /verified against libtorch/);

  const { faces } = await testFaces(12);
  const [a, b] = [await members[0].predict(faces, 12), await members[1].predict(faces, 12)];
  const mean = a.map((v, i) => (v + b[i]) / 2);
  const model = await KeypointModel.load(onnx, { threads: 2 });
  try {
    assert.equal(model.info.modelName, 'ensemble of 2: cli-test + cli-test-2');
    const predicted = await model.predict(faces);
    assert.ok(maxAbsDiff(predicted, mean) < 1e-3, 'the mean of the members');
    assert.ok(maxAbsDiff(predicted, a) > 0.01, 'not just the first member');
  } finally {
    await model.close();
  }
});

test('fkd export: ensemble members that predict different keypoints are refused, nothing written', async (t) => {
  const dir = await tempDir(t);
  const wide = validateModelSpec({ ...SPEC, outputs: 136, layers: [{ type: 'maxpool', size: 8 }, { type: 'flatten' }, { type: 'dense', units: 136 }] });
  await randomTorchModel(SPEC, 1).save(join(dir, 'a.fkd'));
  await randomTorchModel(wide, 2, { ...KAGGLE_METADATA, schema: 'ibug68', pointCount: 68 }).save(join(dir, 'b.fkd'));
  const onnx = join(dir, 'mixed.onnx');
  const result = await runCli(['export', join(dir, 'a.fkd'), join(dir, 'b.fkd'), '--onnx', onnx]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /b\.fkd.*predicts 68 ibug68 keypoints .* an ensemble's members must agree/);
  assert.ok(!existsSync(onnx));
});
