import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { KeypointModel } from '../src/inference/keypoint-model.js';
import { exportOnnx } from '../src/inference/onnx/export.js';
import { decodeModelWithOpaqueGraph, encodeModel, type ModelHeader } from '../src/inference/onnx/proto.js';
import { namedSpec } from '../src/models/spec.js';
import { KAGGLE15 } from '../src/schema/index.js';
import { FACE_PIXELS, FACE_SIZE } from '../src/data/dataset.js';
import { InputError } from '../src/data/errors.js';
import { tempDir } from './helpers.js';
import { SMALL_SPEC, maxAbsDiff, randomTorchModel, testFaces } from './onnx-fixtures.js';


const smallModel = randomTorchModel(SMALL_SPEC, 4);
const smallOnnx = exportOnnx(smallModel.spec, smallModel.native.getState(), smallModel.metadata);

async function writeModel(t: Parameters<typeof tempDir>[0], bytes: Uint8Array, name = 'model.onnx'): Promise<string> {
  const file = join(await tempDir(t), name);
  await writeFile(file, bytes);
  return file;
}

function mirror(faces: Uint8Array): Uint8Array {
  const out = new Uint8Array(faces.length);
  for (let row = 0; row < faces.length / FACE_SIZE; row++) {
    for (let col = 0; col < FACE_SIZE; col++) out[row * FACE_SIZE + col] = faces[row * FACE_SIZE + FACE_SIZE - 1 - col];
  }
  return out;
}

test('KeypointModel matches libtorch in crop pixels, whatever the batch size (partial last batch, reused buffers)', async (t) => {
  const { faces } = await testFaces(23);
  const expected = await smallModel.predict(faces, 23);
  for (const batchSize of [1, 7, 64]) {
    const model = await KeypointModel.load(await writeModel(t, smallOnnx), { threads: 2, batchSize });
    try {
      assert.equal(model.pointCount, 15);
      const actual = await model.predict(faces);
      assert.ok(actual instanceof Float64Array);
      assert.equal(actual.length, 23 * 30);
      assert.ok(maxAbsDiff(actual, expected) < 1e-3, `batch size ${batchSize}: differs by ${maxAbsDiff(actual, expected)} px`);
      // Same session again, on a different number of faces: nothing left over from the last call.
      const again = await model.predict(faces.subarray(5 * FACE_PIXELS, 9 * FACE_PIXELS));
      assert.ok(maxAbsDiff(again, expected.subarray(5 * 30, 9 * 30)) < 1e-3);
    } finally {
      await model.close();
    }
  }
});

test('concurrent predict calls each get their own faces’ keypoints', async (t) => {
  const { faces } = await testFaces(20);
  const model = await KeypointModel.load(await writeModel(t, smallOnnx), { threads: 2, batchSize: 4 });
  try {
    const first = faces.subarray(0, 10 * FACE_PIXELS);
    const second = faces.subarray(10 * FACE_PIXELS);
    const [a, b] = await Promise.all([model.predict(first), model.predict(second, { flipTta: true })]);
    assert.deepEqual(a, await model.predict(first));
    assert.deepEqual(b, await model.predict(second, { flipTta: true }));
  } finally {
    await model.close();
  }
});

test('flip TTA: the mirrored face gets the mirrored, left/right-swapped prediction; each point averages itself with its mirror partner', async (t) => {
  const { faces } = await testFaces(12);
  const mirrored = mirror(faces);
  const model = await KeypointModel.load(await writeModel(t, smallOnnx), { threads: 2, batchSize: 5 });
  try {
    const tta = await model.predict(faces, { flipTta: true });
    const ttaOfMirrored = await model.predict(mirrored, { flipTta: true });
    const plain = await model.predict(faces);
    const plainOfMirrored = await model.predict(mirrored);
    const index = (name: string): number => KAGGLE15.points.indexOf(name);
    // The mirror partner by name: left and right exchanged (Kaggle's left is the subject's left).
    const partnerName = (name: string): string => name.replace(/left|right/, (side) => (side === 'left' ? 'right' : 'left'));

    let worst = 0;
    for (let face = 0; face < 12; face++) {
      for (const name of KAGGLE15.points) {
        const p = index(name);
        const q = index(partnerName(name));
        const at = face * 30;
        // TTA(mirror(F)) = mirror-and-swap(TTA(F)).
        worst = Math.max(worst, Math.abs(ttaOfMirrored[at + 2 * p] - (95 - tta[at + 2 * q])), Math.abs(ttaOfMirrored[at + 2 * p + 1] - tta[at + 2 * q + 1]));
        // TTA(F) at point p = mean of F's point p and the mirror image's partner point, un-mirrored.
        const expectedX = (plain[at + 2 * p] + 95 - plainOfMirrored[at + 2 * q]) / 2;
        const expectedY = (plain[at + 2 * p + 1] + plainOfMirrored[at + 2 * q + 1]) / 2;
        assert.ok(Math.abs(tta[at + 2 * p] - expectedX) < 1e-4 && Math.abs(tta[at + 2 * p + 1] - expectedY) < 1e-4, `face ${face}, ${name}`);
      }
    }
    assert.ok(worst < 1e-4, `TTA is not mirror-consistent: ${worst} px`);
    // The model is not symmetric, so TTA really changes the answer.
    assert.ok(maxAbsDiff(tta, plain) > 1e-3);
  } finally {
    await model.close();
  }
});

test('flip TTA of the heatmap model: left/right swap agrees with libtorch predictions of the mirrored faces', async (t) => {
  const torch = randomTorchModel(namedSpec('heatmap')!, 8);
  const { faces } = await testFaces(10);
  const plain = await torch.predict(faces, 10);
  const ofMirrored = await torch.predict(mirror(faces), 10);
  const model = await KeypointModel.load(await writeModel(t, exportOnnx(torch.spec, torch.native.getState(), torch.metadata)), { threads: 2 });
  try {
    const tta = await model.predict(faces, { flipTta: true });
    const left = KAGGLE15.points.indexOf('left_eye_center');
    const right = KAGGLE15.points.indexOf('right_eye_center');
    for (let face = 0; face < 10; face++) {
      const at = face * 30;
      assert.ok(Math.abs(tta[at + 2 * left] - (plain[at + 2 * left] + 95 - ofMirrored[at + 2 * right]) / 2) < 1e-3);
      assert.ok(Math.abs(tta[at + 2 * left + 1] - (plain[at + 2 * left + 1] + ofMirrored[at + 2 * right + 1]) / 2) < 1e-3);
    }
  } finally {
    await model.close();
  }
});

test('predict rejects pixels that are not whole 96x96 faces', async (t) => {
  const model = await KeypointModel.load(await writeModel(t, smallOnnx), { threads: 1 });
  try {
    await assert.rejects(model.predict(new Uint8Array(FACE_PIXELS + 1)), /not a whole number of 96x96 faces/);
    assert.equal((await model.predict(new Uint8Array(0))).length, 0);
  } finally {
    await model.close();
  }
});

/** The exported model with its metadata_props replaced: a valid ONNX model, but not marked as ours. */
function withMetadata(bytes: Uint8Array, props: ModelHeader['metadataProps']): Uint8Array {
  const model = decodeModelWithOpaqueGraph(bytes);
  const header: ModelHeader = {
    irVersion: model.irVersion!,
    producerName: 'someone-else',
    producerVersion: '1',
    modelVersion: 1,
    opsetImport: model.opsetImport!,
    metadataProps: props,
  };
  return encodeModel(header, model.graph!);
}

async function assertLoadFails(file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(KeypointModel.load(file, { threads: 1 }), (err: Error) => {
    assert.ok(err instanceof InputError, `${err.name}: ${err.message}`);
    assert.ok(err.message.startsWith(`${file}: `), `the error names the file: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('load: a valid ONNX model without fkd metadata is refused as not ours', async (t) => {
  const foreign = withMetadata(smallOnnx, []);
  // It is a model onnxruntime runs: only the missing marker makes it foreign.
  const session = await ort.InferenceSession.create(foreign);
  await session.release();
  await assertLoadFails(await writeModel(t, foreign, 'foreign.onnx'), /not an fkd keypoint model/);
  const otherMarker = withMetadata(smallOnnx, [{ key: 'fkd.format', value: 'something-else' }]);
  await assertLoadFails(await writeModel(t, otherMarker, 'other.onnx'), /not an fkd keypoint model/);
});

test('load: truncated, bit-flipped, non-ONNX and missing files fail with errors naming the file', async (t) => {
  for (const length of [1, 40, Math.floor(smallOnnx.length / 2), smallOnnx.length - 1]) {
    await assertLoadFails(await writeModel(t, smallOnnx.subarray(0, length), `cut-${length}.onnx`), /corrupt|truncated/);
  }
  const flipped = smallOnnx.slice();
  flipped[flipped.length - 1000] ^= 0x10; // inside a weight tensor
  await assertLoadFails(await writeModel(t, flipped, 'flipped.onnx'), /checksum mismatch/);
  await assertLoadFails(await writeModel(t, new TextEncoder().encode('RowId,Location\n1,2\n'), 'text.onnx'), /not a valid ONNX file|not an fkd keypoint model/);
  await assertLoadFails(await writeModel(t, new Uint8Array(0), 'empty.onnx'), /no graph|truncated/);
  await assertLoadFails(join(await tempDir(t), 'absent.onnx'), /no such file/);
});
