/** Kaggle-format CSVs of any known keypoint schema: the header decides kaggle15 or ibug68. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readKaggleCsv, readKaggleTraining } from '../src/data/kaggle/read.js';
import { writeKaggleTraining } from '../src/data/kaggle/write.js';
import { TRAINING_HEADER, trainingHeader } from '../src/data/kaggle/columns.js';
import { FACE_PIXELS, selectRows, type KeypointSet } from '../src/data/dataset.js';
import { InputError } from '../src/data/errors.js';
import { IBUG68, KAGGLE15, coordinateColumns } from '../src/schema/index.js';
import { randomKeypointSet, tempDir } from './helpers.js';

/** A small 68-point set with some points missing and, optionally, half the values flagged as predicted. */
function random68Set(size: number, seed = 1, withPredicted = false): KeypointSet {
  const set = randomKeypointSet(size, seed, 68);
  if (!withPredicted) return set;
  return { ...set, predicted: Uint8Array.from({ length: size * 136 }, (_, i) => ((i * 7 + seed) % 3 === 0 ? 1 : 0)) };
}

async function inputError(promise: Promise<unknown>): Promise<InputError> {
  const err = await promise.then(
    () => assert.fail('expected an InputError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InputError, String(err));
  return err;
}

test('ibug68 round trip: 136 coordinate columns named after the schema, Predicted of 136 flags, values and pixels exact', async (t) => {
  const dir = await tempDir(t);
  for (const withPredicted of [false, true]) {
    const set = random68Set(3, withPredicted ? 2 : 1, withPredicted);
    const file = join(dir, `ibug-${withPredicted}.csv`);
    await writeKaggleTraining(file, set, { predictedColumn: withPredicted });
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    assert.equal(lines[0], trainingHeader(IBUG68, { predictedColumn: withPredicted }).join(','));
    assert.ok(lines[0].startsWith('jaw_0_x,jaw_0_y,jaw_1_x,'), lines[0]);
    assert.equal(lines[1].split(',').length, 136 + (withPredicted ? 2 : 1));
    const back = await readKaggleTraining(file);
    assert.equal(back.schema, 'ibug68');
    assert.equal(back.pointCount, 68);
    assert.equal(back.size, 3);
    assert.deepEqual(Array.from(back.keypoints), Array.from(set.keypoints));
    assert.ok(Buffer.from(back.images).equals(Buffer.from(set.images)));
    if (withPredicted) assert.deepEqual(Array.from(back.predicted!), Array.from(set.predicted!));
    else assert.equal(back.predicted, undefined);
    // Written again from what was read: the same bytes.
    const again = join(dir, `again-${withPredicted}.csv`);
    await writeKaggleTraining(again, selectRows(back, [0, 1, 2]), { predictedColumn: withPredicted });
    assert.equal(await readFile(again, 'utf8'), text);
  }
});

test("Kaggle's files keep their exact layout and read as kaggle15", async (t) => {
  const dir = await tempDir(t);
  const set = randomKeypointSet(2, 5);
  const file = join(dir, 'training.csv');
  await writeKaggleTraining(file, set);
  const text = await readFile(file, 'utf8');
  assert.equal(text.split('\n')[0], TRAINING_HEADER.join(','));
  const back = await readKaggleTraining(file);
  assert.equal(back.schema, 'kaggle15');
  assert.equal(back.pointCount, 15);
  const again = join(dir, 'again.csv');
  await writeKaggleTraining(again, back);
  assert.equal(await readFile(again, 'utf8'), text);
});

test('a keypoints-only 68-point file (no Image column) reads with labelsOnly', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'labels.csv');
  const row = Array.from({ length: 136 }, (_, i) => (i === 3 ? '' : String(i / 2)));
  await writeFile(file, coordinateColumns(IBUG68).join(',') + '\n' + row.join(',') + '\n');
  const result = await readKaggleCsv(file, { labelsOnly: true });
  assert.equal(result.kind, 'training');
  if (result.kind !== 'training') return;
  assert.equal(result.set.schema, 'ibug68');
  assert.equal(result.set.keypoints[2], 1);
  assert.ok(Number.isNaN(result.set.keypoints[3]));
});

/** A valid one-row 68-point file's text. */
async function valid68Text(dir: string): Promise<string> {
  const file = join(dir, 'valid68.csv');
  await writeKaggleTraining(file, random68Set(1, 9, true), { predictedColumn: true });
  return readFile(file, 'utf8');
}

test('header errors name the file, line 1 and the field: mixed schemas, unknown column, missing 68-point columns', async (t) => {
  const dir = await tempDir(t);
  const cases: { name: string; text: string; field: string; message: RegExp }[] = [
    {
      name: 'a Kaggle header with one ibug68 column',
      text: TRAINING_HEADER.join(',').replace('nose_tip_x', 'jaw_0_x') + '\n',
      field: 'jaw_0_x',
      message: /ibug68 keypoint column after kaggle15 column left_eye_center_x: the header mixes keypoint schemas/,
    },
    {
      name: 'an ibug68 header with one Kaggle column',
      text: trainingHeader(IBUG68).join(',').replace('jaw_5_y', 'nose_tip_x') + '\n',
      field: 'nose_tip_x',
      message: /kaggle15 keypoint column after ibug68 column jaw_0_x: the header mixes keypoint schemas/,
    },
    {
      name: 'an unknown column',
      text: trainingHeader(IBUG68).join(',').replace('outer_lip_3_x', 'outer_lip_x') + '\n',
      field: 'outer_lip_x',
      message: /unknown column; expected .*kaggle15, 30 columns; ibug68, 136 columns/,
    },
    {
      name: 'missing 68-point columns',
      text: trainingHeader(IBUG68).filter((c) => !c.startsWith('inner_lip_7')).join(',') + '\n',
      field: 'inner_lip_7_x',
      message: /lacks 2 ibug68 keypoint column\(s\): inner_lip_7_x, inner_lip_7_y/,
    },
  ];
  for (const c of cases) {
    const file = join(dir, 'bad.csv');
    await writeFile(file, c.text);
    const err = await inputError(readKaggleTraining(file));
    assert.equal(err.location.file, file, c.name);
    assert.equal(err.location.line, 1, c.name);
    assert.equal(err.location.field, c.field, c.name);
    assert.match(err.message, c.message, c.name);
  }
});

test('a 68-point Predicted field must hold 136 flags', async (t) => {
  const dir = await tempDir(t);
  const text = await valid68Text(dir);
  const file = join(dir, 'bad-flags.csv');
  await writeFile(file, text.replace(/,([01]{136}),/, (_, flags: string) => `,${flags.slice(0, 30)},`));
  const err = await inputError(readKaggleTraining(file));
  assert.equal(err.location.line, 2);
  assert.equal(err.location.field, 'Predicted');
  assert.match(err.message, /expected 136 characters of 0\/1/);
});

test('the writer refuses a set whose point count matches no known schema', async (t) => {
  const dir = await tempDir(t);
  const set: KeypointSet = { size: 1, pointCount: 5, images: new Uint8Array(FACE_PIXELS), keypoints: new Float64Array(10) };
  await assert.rejects(writeKaggleTraining(join(dir, 'x.csv'), set), /no known keypoint schema has 5 points/);
  assert.equal(KAGGLE15.points.length, 15);
});
