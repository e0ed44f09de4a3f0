import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { writeKaggleTest } from '../src/data/kaggle/write.js';
import { readLookupTable } from '../src/data/kaggle/submission.js';
import { exportOnnx } from '../src/inference/onnx/export.js';
import { decodeModelWithOpaqueGraph, encodeModel } from '../src/inference/onnx/proto.js';
import { KeypointModel } from '../src/inference/keypoint-model.js';
import { DEFAULT_MODEL } from '../src/cli/commands/predict.js';
import { runCli, sharedData, tempDir } from './helpers.js';
import { SMALL_SPEC, randomTorchModel, testFaces } from './onnx-fixtures.js';

const KAGGLE_TEST_IMAGES = 1783;
const LOOKUP_ROWS = 27124;


interface Fixture {
  dir: string;
  model: string;
  testCsv: string;
  lookup: string;
  sample: string;
  faces: Uint8Array;
}

let built: Promise<Omit<Fixture, 'lookup' | 'sample'>> | undefined;
let builtDir: string | undefined;
after(() => (builtDir ? rm(builtDir, { recursive: true, force: true }) : undefined));

/** Kaggle's layout at Kaggle's size (ImageIds 1..1783, faces reused cyclically) and an exported model; built once per file. */
async function fixture(t: TestContext): Promise<Fixture | undefined> {
  const lookup = sharedData(t, 'kaggle/IdLookupTable.csv');
  const sample = sharedData(t, 'kaggle/SampleSubmission.csv');
  if (!lookup || !sample) return undefined;
  built ??= (async () => {
    const dir = (builtDir = await mkdtemp(join(tmpdir(), 'fkd-predict-')));
    const { faces: distinct } = await testFaces(50);
    const distinctCount = distinct.length / FACE_PIXELS;
    const faces = new Uint8Array(KAGGLE_TEST_IMAGES * FACE_PIXELS);
    for (let i = 0; i < KAGGLE_TEST_IMAGES; i++) faces.set(distinct.subarray((i % distinctCount) * FACE_PIXELS, ((i % distinctCount) + 1) * FACE_PIXELS), i * FACE_PIXELS);
    const testCsv = join(dir, 'test.csv');
    await writeKaggleTest(testCsv, { size: KAGGLE_TEST_IMAGES, imageIds: Int32Array.from({ length: KAGGLE_TEST_IMAGES }, (_, i) => i + 1), images: faces });
    const torch = randomTorchModel(SMALL_SPEC, 21);
    const model = join(dir, 'model.onnx');
    await writeFile(model, exportOnnx(torch.spec, torch.native.getState(), torch.metadata));
    return { dir, model, testCsv, faces };
  })();
  const f = await built;
  // Each test writes its outputs in a folder of its own.
  const dir = await mkdtemp(join(f.dir, 'case-'));
  return { ...f, dir, lookup, sample };
}

function parseSubmission(text: string): { rowIds: number[]; values: number[] } {
  const lines = text.split('\n');
  assert.equal(lines[0], 'RowId,Location');
  assert.equal(lines.at(-1), '', 'ends with a newline');
  const rows = lines.slice(1, -1).map((line) => line.split(','));
  return { rowIds: rows.map((r) => Number(r[0])), values: rows.map((r) => Number(r[1])) };
}

test('fkd predict --kaggle: a full-size submission in SampleSubmission order, values in [0, 96], from the model’s predictions', async (t) => {
  const f = await fixture(t);
  if (!f) return;
  const out = join(f.dir, 'submission.csv');
  const result = await runCli(['predict', '--kaggle', f.testCsv, '--lookup', f.lookup, '--out', out, '--model', f.model, '--threads', '2']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`wrote .*submission\\.csv: ${LOOKUP_ROWS} rows for ${KAGGLE_TEST_IMAGES} faces`));

  const { rowIds, values } = parseSubmission(await readFile(out, 'utf8'));
  assert.equal(rowIds.length, LOOKUP_ROWS);
  const sampleIds = (await readFile(f.sample, 'utf8')).split(/\r?\n/).slice(1).filter((l) => l !== '').map((l) => Number(l.split(',')[0]));
  assert.deepEqual(rowIds, sampleIds);
  assert.ok(values.every((v) => Number.isFinite(v) && v >= 0 && v <= 96));

  // Every row is the model's prediction of its image's coordinate, clipped to the image.
  const model = await KeypointModel.load(f.model, { threads: 2 });
  try {
    const predicted = await model.predict(f.faces);
    const lookup = await readLookupTable(f.lookup);
    let worst = 0;
    lookup.forEach((row, i) => {
      const expected = Math.min(96, Math.max(0, predicted[(row.imageId - 1) * 30 + row.coordinate]));
      worst = Math.max(worst, Math.abs(values[i] - expected));
    });
    assert.ok(worst < 1e-4, `submission differs from the model by ${worst} px`);
    // An untrained net clusters its points: clipping must not have flattened them all.
    assert.ok(new Set(values.map((v) => v.toFixed(3))).size > 100);
  } finally {
    await model.close();
  }
});

test('fkd predict --kaggle --flip-tta: a valid submission that differs from the plain one', async (t) => {
  const f = await fixture(t);
  if (!f) return;
  const plain = join(f.dir, 'plain.csv');
  const tta = join(f.dir, 'tta.csv');
  const common = ['predict', '--kaggle', f.testCsv, '--lookup', f.lookup, '--model', f.model, '--threads', '2'];
  assert.equal((await runCli([...common, '--out', plain])).code, 0);
  const result = await runCli([...common, '--out', tta, '--flip-tta']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /flip TTA/);
  const a = parseSubmission(await readFile(plain, 'utf8'));
  const b = parseSubmission(await readFile(tta, 'utf8'));
  assert.deepEqual(b.rowIds, a.rowIds);
  assert.ok(b.values.every((v) => v >= 0 && v <= 96));
  assert.ok(b.values.some((v, i) => Math.abs(v - a.values[i]) > 1e-3));
});

/** A small Kaggle-layout set that needs no shared data: 12 faces, ImageIds 1..12, a lookup asking for some of them. */
async function smallFixture(t: TestContext): Promise<{ dir: string; model: string; testCsv: string; lookup: string }> {
  const dir = await tempDir(t);
  const { faces } = await testFaces(12);
  const testCsv = join(dir, 'test.csv');
  await writeKaggleTest(testCsv, { size: 12, imageIds: Int32Array.from({ length: 12 }, (_, i) => i + 1), images: faces });
  const lookup = join(dir, 'IdLookupTable.csv');
  const rows = Array.from({ length: 12 }, (_, i) => `${2 * i + 1},${i + 1},left_eye_center_x\r\n${2 * i + 2},${i + 1},nose_tip_y\r\n`);
  await writeFile(lookup, `RowId,ImageId,FeatureName,Location\r\n${rows.join('')}`);
  const torch = randomTorchModel(SMALL_SPEC, 22);
  const model = join(dir, 'model.onnx');
  await writeFile(model, exportOnnx(torch.spec, torch.native.getState(), torch.metadata));
  return { dir, model, testCsv, lookup };
}

test('fkd predict --kaggle on a small set: the rows the lookup asks for, nothing else', async (t) => {
  const f = await smallFixture(t);
  const out = join(f.dir, 'submission.csv');
  const result = await runCli(['predict', '--kaggle', f.testCsv, '--lookup', f.lookup, '--out', out, '--model', f.model, '--batch-size', '5', '--threads', '1']);
  assert.equal(result.code, 0, result.stderr);
  const { rowIds, values } = parseSubmission(await readFile(out, 'utf8'));
  assert.deepEqual(rowIds, Array.from({ length: 24 }, (_, i) => i + 1));
  assert.ok(values.every((v) => v >= 0 && v <= 96));
});

test('fkd predict: foreign, truncated, missing or absent default models, bad options, a lookup asking for unknown images → exit 2, one line, nothing written', async (t) => {
  const f = await smallFixture(t);
  const bytes = await readFile(f.model);
  const parsed = decodeModelWithOpaqueGraph(bytes);
  const foreign = join(f.dir, 'foreign.onnx');
  await writeFile(
    foreign,
    encodeModel({ irVersion: parsed.irVersion!, producerName: 'other', producerVersion: '1', modelVersion: 1, opsetImport: parsed.opsetImport!, metadataProps: [] }, parsed.graph!),
  );
  const truncated = join(f.dir, 'truncated.onnx');
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
  const badLookup = join(f.dir, 'lookup.csv');
  await writeFile(badLookup, 'RowId,ImageId,FeatureName,Location\r\n1,1,left_eye_center_x\r\n2,5000,nose_tip_y\r\n');

  const out = join(f.dir, 'submission.csv');
  const base = ['predict', '--kaggle', f.testCsv, '--out', out];
  const cases: [string[], RegExp][] = [
    [[...base, '--lookup', f.lookup, '--model', foreign], /foreign\.onnx: not an fkd keypoint model/],
    [[...base, '--lookup', f.lookup, '--model', truncated], /truncated\.onnx: .*(corrupt|truncated)/],
    [[...base, '--lookup', f.lookup, '--model', join(f.dir, 'absent.onnx')], /absent\.onnx: no such file/],
    [[...base, '--lookup', badLookup, '--model', f.model], /lookup\.csv: RowId 2 asks for ImageId 5000, which .*test\.csv does not have/],
    [[...base, '--lookup', f.lookup, '--model', f.model, '--batch-size', '0'], /--batch-size must be an integer from 1/],
    [['predict', '--kaggle', f.testCsv, '--model', f.model], /--kaggle needs --lookup/],
    [['predict', 'photo.jpg', '--kaggle', f.testCsv, '--lookup', f.lookup, '--out', out, '--model', f.model], /either photo files or --kaggle/],
    [['predict'], /nothing to predict/],
  ];
  if (!existsSync(DEFAULT_MODEL)) cases.push([[...base, '--lookup', f.lookup], /no bundled model yet .*pass --model/]);
  else t.diagnostic(`${DEFAULT_MODEL} exists: the no-bundled-model case is not checked`);
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.ok(!existsSync(out), `${args.join(' ')}: nothing may be written`);
  }
});
