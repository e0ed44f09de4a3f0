import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TorchModel } from '../src/models/torch-model.js';
import { encodeModelFile, readModelFile, MODEL_MAGIC } from '../src/models/file.js';
import { validateModelSpec } from '../src/models/spec.js';
import { InputError } from '../src/data/errors.js';
import { randomKeypointSet, tempDir } from './helpers.js';

const metadata = { schema: 'kaggle15', pointCount: 15, normalization: 'unit-v1' as const };
const spec = validateModelSpec({
  name: 'io-test',
  inputSize: 96,
  outputs: 30,
  layers: [
    { type: 'conv', filters: 4, kernel: 3, stride: 2, bias: false },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'globalAvgPool' },
    { type: 'dense', units: 30 },
  ],
});

test('a saved model loads with the same spec, metadata, weights and predictions', async (t) => {
  const dir = await tempDir(t);
  const faces = randomKeypointSet(5, 1);
  const model = TorchModel.create(spec, metadata, { seed: 9 });
  const path = join(dir, 'm.fkd');
  await model.save(path);
  const bytes = await readFile(path);
  assert.equal(bytes.toString('latin1', 0, 8), MODEL_MAGIC);
  const loaded = await TorchModel.load(path);
  assert.deepEqual(loaded.spec, spec);
  assert.equal(loaded.metadata.schema, 'kaggle15');
  assert.deepEqual(loaded.native.getState(), model.native.getState());
  assert.deepEqual(await loaded.predict(faces.images), await model.predict(faces.images));
  // A differently seeded model predicts differently, so the comparison above means something.
  assert.notDeepEqual(await TorchModel.create(spec, metadata, { seed: 10 }).predict(faces.images), await model.predict(faces.images));
});

async function loadError(path: string): Promise<InputError> {
  try {
    await TorchModel.load(path);
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${err}`);
    return err;
  }
  assert.fail(`${path} loaded`);
}

test('corrupted, truncated, foreign and mismatched files are rejected with the file named', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'good.fkd');
  await TorchModel.create(spec, metadata).save(path);
  const good = await readFile(path);

  const flipped = Buffer.from(good);
  flipped[flipped.length - 100] ^= 0x40;
  await writeFile(join(dir, 'flipped.fkd'), flipped);
  assert.match((await loadError(join(dir, 'flipped.fkd'))).message, /flipped\.fkd: checksum mismatch/);

  await writeFile(join(dir, 'short.fkd'), good.subarray(0, good.length - 10));
  assert.match((await loadError(join(dir, 'short.fkd'))).message, /short\.fkd: checksum mismatch/);

  await writeFile(join(dir, 'foreign.fkd'), Buffer.from('PK\u0003\u0004 not a model at all, just some bytes long enough'));
  assert.match((await loadError(join(dir, 'foreign.fkd'))).message, /foreign\.fkd: not an fkd model file/);

  const future = Buffer.from(good);
  future.writeUInt32LE(99, 8);
  await writeFile(join(dir, 'future.fkd'), future);
  assert.match((await loadError(join(dir, 'future.fkd'))).message, /future\.fkd: model file format version 99 is not supported/);

  // Well-formed file whose weights belong to another architecture (wider first conv).
  const contents = await readModelFile(path);
  const wider = validateModelSpec({ ...spec, layers: [{ ...spec.layers[0], filters: 8 }, ...spec.layers.slice(1)] });
  await writeFile(join(dir, 'mismatch.fkd'), encodeModelFile({ ...contents, spec: wider }));
  assert.match((await loadError(join(dir, 'mismatch.fkd'))).message, /mismatch\.fkd: weights do not match the model spec: tensor 0_conv\.weight has shape \[4, 1, 3, 3\] but the model expects \[8, 1, 3, 3\]/);

  await writeFile(join(dir, 'missing.fkd'), encodeModelFile({ ...contents, tensors: contents.tensors.slice(1) }));
  assert.match((await loadError(join(dir, 'missing.fkd'))).message, /missing\.fkd: weights do not match the model spec/);
});
