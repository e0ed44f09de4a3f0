import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { namedSpec, namedSpecNames, validateModelSpec, type ModelSpec } from '../src/models/spec.js';
import { exportOnnx, ExportError, ONNX_OPSET } from '../src/inference/onnx/export.js';
import { inspectOnnx } from '../src/inference/onnx/inspect.js';
import { decodeModel } from '../src/inference/onnx/proto.js';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { KAGGLE_METADATA, maxAbsDiff, randomTorchModel, testFaces } from './onnx-fixtures.js';
import type { TorchModel } from '../src/models/torch-model.js';

/** Specs that, with the shipped ones, use every layer type and option the exporter maps. */
const COVERAGE_SPECS: Record<string, ModelSpec> = {
  // Strided conv with fused ELU, padded average pooling, a residual block with a projection
  // shortcut and an inner concat, nearest upsampling, concat with an earlier layer, dilated
  // 'same' conv, padded max pooling, dropout, soft-argmax with a temperature.
  'heatmap-coverage': validateModelSpec({
    inputSize: 96,
    outputs: 30,
    layers: [
      { type: 'conv', filters: 8, kernel: 3, stride: 2, padding: 1, activation: 'elu', alpha: 0.7 },
      { type: 'batchnorm', eps: 0.001 },
      { type: 'leakyRelu', slope: 0.2 },
      { type: 'avgpool', size: 3, stride: 2, padding: 1, name: 'a24' },
      {
        type: 'residual',
        activation: 'sigmoid',
        layers: [
          { type: 'conv', filters: 8, kernel: 3, stride: 2, padding: 1, activation: 'tanh', name: 'inner' },
          { type: 'concat', with: 'inner' },
        ],
      },
      { type: 'upsample', scale: 2, mode: 'nearest' },
      { type: 'concat', with: 'a24' },
      { type: 'conv', filters: 12, kernel: 5, padding: 'same', dilation: 2, activation: 'leakyRelu', slope: 0.3 },
      { type: 'maxpool', size: 3, stride: 2, padding: 1 },
      { type: 'dropout', rate: 0.3 },
      { type: 'elu', alpha: 1.3 },
      { type: 'conv', filters: 15, kernel: 1, bias: false },
      { type: 'softArgmax', beta: 2.5 },
    ],
  }),
  // Non-integer bilinear upsampling, global average pooling, dense without bias, 1-D batch norm,
  // alpha dropout, tanh, xavier-initialised output.
  'dense-coverage': validateModelSpec({
    inputSize: 96,
    outputs: 30,
    layers: [
      { type: 'conv', filters: 8, kernel: 4, stride: 3, padding: 2, activation: 'sigmoid' },
      { type: 'upsample', scale: 1.5, mode: 'bilinear' },
      { type: 'avgpool', size: 2 },
      { type: 'conv', filters: 16, kernel: 3, activation: 'relu' },
      { type: 'globalAvgPool' },
      { type: 'dense', units: 32, bias: false, activation: 'leakyRelu', slope: 0.05 },
      { type: 'batchnorm' },
      { type: 'alphaDropout', rate: 0.1 },
      { type: 'tanh' },
      { type: 'dense', units: 30, init: 'xavierUniform' },
    ],
  }),
  // Global max pooling, flatten of a flat input, residual over dense features, sigmoid.
  'global-max-coverage': validateModelSpec({
    inputSize: 96,
    outputs: 30,
    layers: [
      { type: 'conv', filters: 16, kernel: 3, padding: 1, activation: 'selu' },
      { type: 'maxpool', size: 2 },
      { type: 'upsample', scale: 2, mode: 'bilinear' },
      { type: 'globalMaxPool' },
      { type: 'flatten' },
      { type: 'residual', layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'sigmoid' }], activation: 'relu' },
      { type: 'dense', units: 30 },
    ],
  }),
};

const FACES = 100;

/** onnxruntime's forward of the exported model, in pixels (metadata unit-v1). */
async function onnxPixels(bytes: Uint8Array, faces: Uint8Array, count: number): Promise<Float64Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  try {
    const input = Float32Array.from(faces, (v) => v / 255);
    const out = await session.run({ input: new ort.Tensor('float32', input, [count, 1, 96, 96]) });
    return Float64Array.from(out.keypoints.data as Float32Array, (v) => v * 48 + 47.5);
  } finally {
    await session.release();
  }
}

async function assertParity(t: { diagnostic(message: string): void }, name: string, model: TorchModel): Promise<void> {
  const { faces, real } = await testFaces(FACES);
  const count = faces.length / FACE_PIXELS;
  const bytes = exportOnnx(model.spec, model.native.getState(), model.metadata);
  const expected = await model.predict(faces, count);
  const actual = await onnxPixels(bytes, faces, count);
  const error = maxAbsDiff(actual, expected);
  t.diagnostic(`${name}: ${count} ${real ? 'YTF-15' : 'random'} faces, max |onnxruntime - libtorch| = ${error.toExponential(2)} px`);
  assert.ok(error < 1e-3, `${name}: onnxruntime and libtorch differ by ${error} px`);
  // A network that ignored its input would agree trivially.
  assert.ok(maxAbsDiff(expected.subarray(0, 30), expected.subarray(30, 60)) > 1e-4, `${name}: predictions do not depend on the face`);
}

for (const name of namedSpecNames()) {
  test(`parity: shipped spec "${name}" exported to ONNX agrees with libtorch within 1e-3 px`, async (t) => {
    await assertParity(t, name, randomTorchModel(namedSpec(name)!, 11));
  });
}

for (const [name, spec] of Object.entries(COVERAGE_SPECS)) {
  test(`parity: ${name} spec agrees with libtorch within 1e-3 px`, async (t) => {
    await assertParity(t, name, randomTorchModel(spec, 5));
  });
}

test('the exported model: opset, dynamic batch, engine weight names as initializers, fkd metadata', () => {
  const model = randomTorchModel(namedSpec('heatmap')!, 2);
  const metadata = { ...KAGGLE_METADATA, createdAt: '2024-01-01T00:00:00Z', libtorch: '2.x' };
  const bytes = exportOnnx(model.spec, model.native.getState(), metadata);
  const decoded = decodeModel(bytes);
  assert.deepEqual(decoded.opsetImport.map((o) => [o.domain ?? '', o.version]), [['', ONNX_OPSET]]);
  assert.ok(ONNX_OPSET >= 13);
  assert.equal(decoded.producerName, 'fkd');
  const input = decoded.graph.input[0];
  assert.equal(input.name, 'input');
  assert.deepEqual(input.type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 1 }, { dimValue: 96 }, { dimValue: 96 }]);
  assert.deepEqual(decoded.graph.output[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 30 }]);
  const initializers = new Set(decoded.graph.initializer.map((i) => i.name));
  const engineNames = model.native.getState().map((t) => t.name).filter((n) => !n.endsWith('num_batches_tracked'));
  for (const name of engineNames) assert.ok(initializers.has(name), `initializer ${name} missing`);
  assert.ok(engineNames.some((n) => n.startsWith('4_residual.0_conv.')), 'residual body weights are nested under the block');

  const info = inspectOnnx(bytes, 'm.onnx');
  assert.equal(info.schema, 'kaggle15');
  assert.equal(info.pointCount, 15);
  assert.equal(info.normalization, 'unit-v1');
  assert.equal(info.inputSize, 96);
  assert.equal(info.modelName, 'heatmap');
  assert.deepEqual(info.metadata, metadata);
  assert.deepEqual(info.spec, model.spec);
});

test('export rejects weights that do not fit the spec, naming the tensor', () => {
  const model = randomTorchModel(namedSpec('baseline')!, 3);
  const state = model.native.getState();
  const spec = model.spec;
  assert.throws(() => exportOnnx(spec, state.filter((t) => t.name !== '2_conv.weight'), KAGGLE_METADATA), (err: Error) => {
    assert.ok(err instanceof ExportError);
    assert.match(err.message, /layers\[2\] \(conv\).*2_conv\.weight/);
    return true;
  });
  const extra = { name: 'stray.weight', dtype: 'float32' as const, shape: [1], data: new Uint8Array(4) };
  assert.throws(() => exportOnnx(spec, [...state, extra], KAGGLE_METADATA), /stray\.weight/);
  const reshaped = state.map((t) => (t.name === '7_dense.bias' ? { ...t, shape: [250, 2] } : t));
  assert.throws(() => exportOnnx(spec, reshaped, KAGGLE_METADATA), /7_dense\.bias has shape \[250, 2\] but the spec implies \[500\]/);
  assert.throws(() => exportOnnx(spec, state, { ...KAGGLE_METADATA, pointCount: 68 }), /30 outputs but the metadata says 68 keypoints/);
  const badConcat = validateModelSpec({ inputSize: 96, outputs: 30, layers: [{ type: 'concat', with: 'nowhere' }, { type: 'dense', units: 30 }] });
  assert.throws(() => exportOnnx(badConcat, [], KAGGLE_METADATA), /layers\[0\] \(concat\): "with": no earlier layer is named "nowhere"/);
  const tooSmall = validateModelSpec({ inputSize: 8, outputs: 30, layers: [{ type: 'maxpool', size: 4 }, { type: 'maxpool', size: 4 }, { type: 'dense', units: 30 }] });
  assert.throws(() => exportOnnx(tooSmall, [], KAGGLE_METADATA), /layers\[1\] \(maxpool\): does not fit its input \[1, 2, 2\] \(output \[1, 0, 0\]\)/);
});
