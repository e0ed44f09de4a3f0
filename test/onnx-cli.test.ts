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
import { maxAbsDiff, randomTorchModel, testFaces } from './onnx-fixtures.js';

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
