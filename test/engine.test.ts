import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeEngine } from '../src/engine/native.js';
import { TorchModel } from '../src/models/torch-model.js';
import { namedSpec, validateModelSpec, withOutputs, type ModelSpec } from '../src/models/spec.js';
import { maskedRmse } from '../src/training/metrics.js';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { randomKeypointSet } from './helpers.js';

const engine = nativeEngine();
const metadata = { schema: 'kaggle15', pointCount: 15, normalization: 'unit-v1' as const };

/** A few thousand parameters: fast enough to train for many epochs in a test. */
const tinySpec: ModelSpec = validateModelSpec({
  inputSize: 96,
  outputs: 30,
  layers: [
    { type: 'conv', filters: 8, kernel: 5, stride: 4, activation: 'relu' },
    { type: 'maxpool', size: 2 },
    { type: 'dense', units: 30 },
  ],
});

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('masked MSE: autograd gradient matches central differences; missing targets cost nothing', () => {
  const random = lcg(7);
  const rows = 3;
  const cols = 6;
  const predictions = Float64Array.from({ length: rows * cols }, () => random() * 2 - 1);
  const targets = Float64Array.from({ length: rows * cols }, (_, i) => (i % 4 === 1 ? Number.NaN : random() * 2 - 1));
  const { loss, gradient } = engine.maskedMseGradient(predictions, targets, rows);

  let sum = 0;
  let present = 0;
  targets.forEach((t, i) => {
    if (!Number.isNaN(t)) {
      sum += (predictions[i] - t) ** 2;
      present++;
    }
  });
  assert.ok(Math.abs(loss - sum / present) < 1e-12, `loss ${loss} vs ${sum / present}`);

  const h = 1e-6;
  for (let i = 0; i < predictions.length; i++) {
    const plus = Float64Array.from(predictions);
    const minus = Float64Array.from(predictions);
    plus[i] += h;
    minus[i] -= h;
    const numeric = (engine.maskedMseGradient(plus, targets, rows).loss - engine.maskedMseGradient(minus, targets, rows).loss) / (2 * h);
    assert.ok(Math.abs(numeric - gradient[i]) < 1e-7, `coordinate ${i}: autograd ${gradient[i]} vs numeric ${numeric}`);
    if (Number.isNaN(targets[i])) assert.ok(gradient[i] === 0, `missing coordinate ${i} must get no gradient, got ${gradient[i]}`);
  }
  // Moving a prediction whose target is missing leaves the loss unchanged.
  const moved = Float64Array.from(predictions);
  moved[1] += 100;
  assert.equal(engine.maskedMseGradient(moved, targets, rows).loss, loss);
});

test('a tiny model overfits 32 faces to near-zero error', async () => {
  const faces = randomKeypointSet(32, 3);
  const model = TorchModel.create(tinySpec, metadata, { seed: 5 });
  model.native.setOptimizer({ type: 'adam', learningRate: 3e-3 });
  const data = new engine.NativeDataset(faces.images, Float32Array.from(faces.keypoints), faces.size, 15, 96);
  const before = maskedRmse(await model.predict(faces.images), faces.keypoints).rmse;
  for (let epoch = 0; epoch < 300; epoch++) await model.native.trainEpoch(data, { epoch, batchSize: 32 });
  const after = maskedRmse(await model.predict(faces.images), faces.keypoints).rmse;
  assert.ok(before > 10, `untrained RMSE ${before} px should be large`);
  assert.ok(after < 0.5, `after overfitting RMSE is ${after} px`);
});

async function trainedWeights(seed: number, threads: number): Promise<Uint8Array[]> {
  engine.setThreadCount(threads);
  const faces = randomKeypointSet(40, 11);
  const spec = validateModelSpec({
    inputSize: 96,
    outputs: 30,
    layers: [
      { type: 'conv', filters: 6, kernel: 3, stride: 2, bias: false },
      { type: 'batchnorm' },
      { type: 'selu' },
      { type: 'maxpool', size: 4 },
      { type: 'alphaDropout', rate: 0.2 },
      { type: 'dense', units: 30 },
    ],
  });
  const model = TorchModel.create(spec, metadata, { seed });
  model.native.setOptimizer({ type: 'sgd', learningRate: 1e-2, momentum: 0.9 });
  const data = new engine.NativeDataset(faces.images, Float32Array.from(faces.keypoints), faces.size, 15, 96);
  const augment = { flip: true, flipPermutation: [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13, 14], rotation: 15, scale: 0.1, shift: 4, brightness: 0.1, contrast: 0.1 };
  for (let epoch = 0; epoch < 3; epoch++) await model.native.trainEpoch(data, { epoch, batchSize: 8, augment });
  return model.native.getState().map((t) => t.data);
}

test('same seed and threads give bit-identical weights; another seed does not', async () => {
  const threads = engine.threadCount();
  try {
    const a = await trainedWeights(1, 2);
    const b = await trainedWeights(1, 2);
    const c = await trainedWeights(2, 2);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  } finally {
    engine.setThreadCount(threads);
  }
});

test('every shipped spec builds and predicts one point pair per keypoint', async () => {
  const faces = randomKeypointSet(3, 2);
  for (const name of ['baseline', 'model15', 'reference', 'heatmap']) {
    const model = TorchModel.create(namedSpec(name)!, metadata, { seed: 1 });
    const out = await model.predict(faces.images, 3, 2);
    assert.equal(out.length, 3 * 30, name);
    assert.ok(out.every(Number.isFinite), name);
  }
  // A 68-point variant of a spec with a soft-argmax head.
  const ibug = TorchModel.create(withOutputs(namedSpec('heatmap')!, 136), { ...metadata, schema: 'ibug68', pointCount: 68 });
  assert.equal((await ibug.predict(faces.images.subarray(0, FACE_PIXELS), 1)).length, 136);
});

test('soft-argmax heads read keypoints inside the image', async () => {
  const model = TorchModel.create(namedSpec('heatmap')!, metadata, { seed: 3 });
  const out = await model.predict(randomKeypointSet(2, 4).images, 2);
  assert.ok(out.every((v) => v >= -0.5 && v <= 95.5), 'soft-argmax is a convex mix of cell centres');
});

test('bad specs and bad calls become JS exceptions with clear messages, never a crash', async () => {
  assert.throws(() => new engine.NativeModel({ inputSize: 96, outputs: 30, layers: [{ type: 'bogus' }] }), /layers\[0\] \(bogus\): unknown layer type/);
  assert.throws(
    () => new engine.NativeModel({ inputSize: 96, outputs: 30, layers: [{ type: 'dense', units: 10 }] }),
    /output is \[2, 10\] but 30 values per face are expected/,
  );
  assert.throws(
    () => new engine.NativeModel({ inputSize: 96, outputs: 30, layers: [{ type: 'flatten' }, { type: 'conv', filters: 4 }] }),
    /layers\[1\] \(conv\): needs a 4-D/,
  );
  assert.throws(() => new engine.NativeModel({ inputSize: 96, outputs: 30, layers: [{ type: 'concat', with: 'nowhere' }] }), /no earlier layer is named "nowhere"/);
  // A libtorch (c10::Error) failure inside a spec: a 9x9 kernel on a 3x3 map.
  assert.throws(
    () => new engine.NativeModel({ inputSize: 96, outputs: 30, layers: [{ type: 'maxpool', size: 32 }, { type: 'conv', filters: 2, kernel: 9 }, { type: 'dense', units: 30 }] }),
    /layers\[1\] \(conv\): does not fit its input \[2, 1, 3, 3\]/,
  );
  assert.throws(() => validateModelSpec({ inputSize: 96, outputs: 30, layers: [{ type: 'conv', filters: 4, colour: 'red' }] }), /unknown field "colour"/);
  assert.throws(
    () => new engine.NativeModel({ inputSize: 96, outputs: 30, layers: [{ type: 'standardize', mean: 0.4, std: 0 }, { type: 'dense', units: 30 }] }),
    /layers\[0\] \(standardize\): "std" must be positive/,
  );
  assert.throws(() => validateModelSpec({ inputSize: 96, outputs: 30, layers: [{ type: 'standardize', std: 0.2 }] }), /standardize.*"mean"|"mean".*standardize/);

  const model = TorchModel.create(tinySpec, metadata);
  const faces = randomKeypointSet(4, 1);
  const tenPoints = new engine.NativeDataset(faces.images, new Float32Array(4 * 20), 4, 10, 96);
  await assert.rejects(model.native.trainEpoch(tenPoints, { epoch: 0, batchSize: 2 }), /before setOptimizer/);
  model.native.setOptimizer({ type: 'adam', learningRate: 1e-3 });
  await assert.rejects(model.native.trainEpoch(tenPoints, { epoch: 0, batchSize: 2 }), /the data has 10 keypoints per face but the model predicts 15/);
  assert.throws(() => model.native.setOptimizer({ type: 'rmsprop' as 'adam', learningRate: 1 }), /unknown optimizer "rmsprop"/);
  assert.throws(() => new engine.NativeDataset(faces.images, new Float32Array(3), 4, 15, 96), /keypoints must hold/);

  // An exception in the batch callback stops the epoch and rejects its promise with that error.
  const fifteen = new engine.NativeDataset(faces.images, new Float32Array(4 * 30), 4, 15, 96);
  const seen: number[] = [];
  await assert.rejects(
    model.native.trainEpoch(fifteen, { epoch: 0, batchSize: 1 }, (batch) => {
      seen.push(batch);
      if (batch === 2) throw new Error('callback failed');
    }),
    /callback failed/,
  );
  assert.ok(seen.length < 4, `training went on after the callback threw: ${seen}`);
});
