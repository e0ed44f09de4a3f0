import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { readKaggleCsv, readKaggleTraining, readKaggleTest } from '../src/data/kaggle/read.js';
import { writeKaggleTraining, writeKaggleTest } from '../src/data/kaggle/write.js';
import { readLookupTable, writeSubmission } from '../src/data/kaggle/submission.js';
import { KAGGLE_COORD_COLUMNS, TRAINING_HEADER } from '../src/data/kaggle/columns.js';
import { FACE_PIXELS, type KeypointSet } from '../src/data/dataset.js';
import { InputError } from '../src/data/errors.js';
import { randomKeypointSet, sharedData, tempDir } from './helpers.js';

const coordinate = fc.oneof(
  { weight: 1, arbitrary: fc.constant(Number.NaN) },
  // -0 is written as "0", like any CSV writer does; it comes back as 0.
  { weight: 4, arbitrary: fc.double({ min: -20, max: 120, noNaN: true }).map((v) => (Object.is(v, -0) ? 0 : v)) },
);

const keypointSetArb = fc.integer({ min: 0, max: 4 }).chain((size) =>
  fc.record({
    keypoints: fc.array(coordinate, { minLength: size * 30, maxLength: size * 30 }),
    predicted: fc.option(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: size * 30, maxLength: size * 30 }), { nil: undefined }),
    pixelSeed: fc.integer(),
    size: fc.constant(size),
  }),
);

function pixels(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size * FACE_PIXELS);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function assertSameSet(actual: KeypointSet, expected: KeypointSet): void {
  assert.equal(actual.size, expected.size);
  assert.deepEqual(Array.from(actual.keypoints), Array.from(expected.keypoints)); // deepEqual treats NaN as equal to NaN
  assert.ok(Buffer.from(actual.images).equals(Buffer.from(expected.images)), 'pixels differ');
}

test('training format round trip (property): values, missing keypoints and pixels come back exactly', async (t) => {
  const dir = await tempDir(t);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(keypointSetArb, async ({ keypoints, predicted, pixelSeed, size }) => {
      const set: KeypointSet = {
        size,
        pointCount: 15,
        images: pixels(size, pixelSeed),
        keypoints: Float64Array.from(keypoints),
        predicted: predicted ? Uint8Array.from(predicted) : undefined,
      };
      const file = join(dir, `r${n++}.csv`);
      await writeKaggleTraining(file, set, { predictedColumn: predicted !== undefined });
      const back = await readKaggleTraining(file);
      assertSameSet(back, set);
      if (predicted) assert.deepEqual(Array.from(back.predicted!), predicted);
      else assert.equal(back.predicted, undefined);
    }),
    { numRuns: 40 },
  );
});

test('test format round trip (property): image ids and pixels come back exactly', async (t) => {
  const dir = await tempDir(t);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: 4 }), fc.integer(), async (ids, seed) => {
      const set = { size: ids.length, imageIds: Int32Array.from(ids), images: pixels(ids.length, seed) };
      const file = join(dir, `t${n++}.csv`);
      await writeKaggleTest(file, set);
      const back = await readKaggleTest(file);
      assert.deepEqual(Array.from(back.imageIds), ids);
      assert.ok(Buffer.from(back.images).equals(Buffer.from(set.images)));
    }),
    { numRuns: 25 },
  );
});

test('writes exactly Kaggle\'s training.csv text: header, empty fields for missing points, space-separated pixels', async (t) => {
  const dir = await tempDir(t);
  const set = randomKeypointSet(2, 7);
  set.keypoints[0] = 66.0335639098;
  set.keypoints[2] = Number.NaN;
  const file = join(dir, 'training.csv');
  await writeKaggleTraining(file, set);
  const lines = (await readFile(file, 'utf8')).split('\n');
  assert.equal(lines[0], TRAINING_HEADER.join(','));
  assert.equal(lines.length, 4); // header, 2 rows, final empty string after the last newline
  const fields = lines[1].split(',');
  assert.equal(fields.length, 31);
  assert.equal(fields[0], '66.0335639098');
  assert.equal(fields[2], '');
  const values = fields[30].split(' ');
  assert.equal(values.length, FACE_PIXELS);
  assert.deepEqual(values.slice(0, 5).map(Number), Array.from(set.images.subarray(0, 5)));
});

test('reads CRLF line ends, a BOM, columns in another order and a last row without newline', async (t) => {
  const dir = await tempDir(t);
  const set = randomKeypointSet(3, 3);
  const order = [...KAGGLE_COORD_COLUMNS].reverse();
  const rows = [['Image', ...order].join(',')];
  for (let r = 0; r < set.size; r++) {
    const img = Array.from(set.images.subarray(r * FACE_PIXELS, (r + 1) * FACE_PIXELS)).join(' ');
    const coords = order.map((name) => {
      const v = set.keypoints[r * 30 + KAGGLE_COORD_COLUMNS.indexOf(name)];
      return Number.isNaN(v) ? '' : String(v);
    });
    rows.push([img, ...coords].join(','));
  }
  const file = join(dir, 'crlf.csv');
  await writeFile(file, '\uFEFF' + rows.join('\r\n'));
  assertSameSet(await readKaggleTraining(file), set);
});

test('reads the real training_keypoints.csv labels: 7049 rows, 2140 complete', async (t) => {
  const file = sharedData(t, 'kaggle/training_keypoints.csv');
  if (!file) return;
  const result = await readKaggleCsv(file, { labelsOnly: true });
  assert.equal(result.kind, 'training');
  if (result.kind !== 'training') return;
  assert.equal(result.set.size, 7049);
  let complete = 0;
  for (let r = 0; r < result.set.size; r++) {
    if (result.set.keypoints.subarray(r * 30, r * 30 + 30).every((v) => !Number.isNaN(v))) complete++;
  }
  assert.equal(complete, 2140);
  assert.equal(result.set.keypoints[0], 66.0335639098);
});

/** A valid two-row training file as text, to be broken by each case. */
function validTrainingText(): string {
  const set = randomKeypointSet(2, 11);
  const lines = [TRAINING_HEADER.join(',')];
  for (let r = 0; r < 2; r++) {
    const coords = Array.from(set.keypoints.subarray(r * 30, r * 30 + 30), (v) => (Number.isNaN(v) ? '' : v.toFixed(3)));
    lines.push([...coords, Array.from(set.images.subarray(r * FACE_PIXELS, (r + 1) * FACE_PIXELS)).join(' ')].join(','));
  }
  return lines.join('\n') + '\n';
}

const badInputs: { name: string; break: (text: string) => string; line: number; field?: string; message: RegExp }[] = [
  { name: 'a missing column', break: (s) => s.replace(/\n([^,\n]*),/, '\n'), line: 2, message: /30 column\(s\), the header has 31/ },
  { name: 'an extra column', break: (s) => s.replace(/(\d)\n/, '$1,1\n'), line: 2, message: /more than the header's 31 columns/ },
  { name: 'a pixel list one short', break: (s) => s.replace(/ \d+\n/, '\n'), line: 2, field: 'Image', message: /9215 pixel values/ },
  { name: 'a pixel over 255', break: (s) => s.replace(/,(\d+) /, ',256 '), line: 2, field: 'Image', message: /pixel 1 is 256/ },
  { name: 'a non-integer pixel', break: (s) => s.replace(/,(\d+) /, ',1.5 '), line: 2, field: 'Image', message: /unexpected character "\." after pixel 0/ },
  { name: 'a negative pixel', break: (s) => s.replace(/,(\d+) /, ',-3 '), line: 2, field: 'Image', message: /unexpected character "-"/ },
  { name: 'a non-numeric keypoint', break: (s) => s.replace(/\n[^,\n]*,/, '\nabc,'), line: 2, field: 'left_eye_center_x', message: /"abc" is not a number/ },
  { name: 'a truncated file', break: (s) => s.slice(0, s.length - 5000), line: 3, field: 'Image', message: /pixel values.*truncated/ },
  { name: 'a file cut inside the keypoints', break: (s) => s.slice(0, s.lastIndexOf('\n', s.length - 2) + 20), line: 3, message: /column\(s\), the header has 31.*truncated/ },
  { name: 'an unknown header column', break: (s) => s.replace('nose_tip_x', 'nose_x'), line: 1, field: 'nose_x', message: /unknown column/ },
  { name: 'an empty file', break: () => '', line: 1, message: /empty/ },
];

for (const bad of badInputs) {
  test(`bad input: ${bad.name} → InputError with file, line and field`, async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'bad.csv');
    await writeFile(file, bad.break(validTrainingText()));
    const err = await readKaggleTraining(file).then(
      () => assert.fail('expected an InputError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.location.file, file);
    assert.equal(err.location.line, bad.line);
    assert.equal(err.location.field, bad.field);
    assert.match(err.message, bad.message);
    assert.ok(err.message.startsWith(file), err.message);
  });
}

test('reading a test.csv layout as training data is a clear error', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'test.csv');
  await writeKaggleTest(file, { size: 1, imageIds: Int32Array.of(1), images: new Uint8Array(FACE_PIXELS) });
  await assert.rejects(readKaggleTraining(file), /test\.csv layout/);
});

test('submission from the real IdLookupTable.csv: 27124 rows, SampleSubmission\'s RowIds in order, values clipped to [0, 96]', async (t) => {
  const lookupFile = sharedData(t, 'kaggle/IdLookupTable.csv');
  const sampleFile = sharedData(t, 'kaggle/SampleSubmission.csv');
  if (!lookupFile || !sampleFile) return;
  const lookup = await readLookupTable(lookupFile);
  assert.equal(lookup.length, 27124);
  const predictions = new Map<number, Float64Array>();
  for (const row of lookup) {
    if (predictions.has(row.imageId)) continue;
    // Spread around the image, including values outside it, to exercise clipping.
    predictions.set(row.imageId, Float64Array.from({ length: 30 }, (_, c) => -10 + ((row.imageId * 7 + c * 13) % 117)));
  }
  assert.equal(predictions.size, 1783);
  const dir = await tempDir(t);
  const out = join(dir, 'submission.csv');
  await writeSubmission(out, lookup, predictions);
  const written = (await readFile(out, 'utf8')).trimEnd().split('\n');
  const sample = (await readFile(sampleFile, 'utf8')).trimEnd().split(/\r?\n/);
  assert.equal(written[0], 'RowId,Location');
  assert.equal(written.length, sample.length);
  const lookupByRowId = new Map(lookup.map((r) => [r.rowId, r]));
  let clipped = 0;
  for (let i = 1; i < written.length; i++) {
    const [rowId, location] = written[i].split(',');
    assert.equal(rowId, sample[i].split(',')[0]);
    const value = Number(location);
    assert.ok(value >= 0 && value <= 96, `row ${i}: ${value}`);
    const row = lookupByRowId.get(Number(rowId))!;
    const raw = predictions.get(row.imageId)![row.coordinate];
    assert.equal(value, Math.min(96, Math.max(0, raw)));
    if (raw !== value) clipped++;
  }
  assert.ok(clipped > 0, 'the test data should include values to clip');
});

test('submission: a missing prediction is an error and leaves no file behind', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'submission.csv');
  const lookup = [
    { rowId: 1, imageId: 1, coordinate: 0 },
    { rowId: 2, imageId: 2, coordinate: 0 },
  ];
  await assert.rejects(writeSubmission(out, lookup, new Map([[1, new Float64Array(30)]])), /no prediction for ImageId 2/);
  assert.deepEqual(await readdir(dir), []);
});

test('lookup table: an unknown feature name names the line and field', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'lookup.csv');
  await writeFile(file, 'RowId,ImageId,FeatureName,Location\r\n1,1,left_eye_center_x,\r\n2,1,chin_x,\r\n');
  await assert.rejects(readLookupTable(file), (e: unknown) => e instanceof InputError && e.location.line === 3 && e.location.field === 'FeatureName');
});
