import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MODEL } from '../src/cli/commands/predict.js';
import { BLAZEFACE_MODELS } from '../src/inference/detector/index.js';
import type { PhotoJson } from '../src/inference/photo/photo-json.js';
import { KAGGLE15 } from '../src/schema/index.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { runCli, tempDir } from './helpers.js';
import { oversizedPngHeader } from './photo-fixtures.js';

const SAMPLE = resolve(PACKAGE_ROOT, 'samples', 'astronaut.png');
const NO_MODEL = `no trained keypoint model at ${DEFAULT_MODEL} (the lead commits models/default.onnx); photo predictions not run`;

function haveModel(t: TestContext): boolean {
  if (existsSync(DEFAULT_MODEL)) return true;
  t.skip(NO_MODEL);
  return false;
}

function point(doc: PhotoJson, face: number, name: string): { x: number; y: number } {
  const found = doc.faces[face].keypoints.find((k) => k.name === name);
  assert.ok(found, `keypoint ${name}`);
  return found;
}

test('fkd predict samples/astronaut.png --out DIR --json: her face, 15 named keypoints where a face has them, JSON file and annotated image', async (t) => {
  if (!haveModel(t)) return;
  const out = join(await tempDir(t), 'out');
  const run = await runCli(['predict', SAMPLE, '--out', out, '--json', '--threads', '2']);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout holds only the JSON (one line per photo)');
  const printed = JSON.parse(lines[0]) as PhotoJson;
  assert.match(run.stderr, /astronaut\.png: 1 face -> /);

  const written = JSON.parse(await readFile(join(out, 'astronaut.keypoints.json'), 'utf8')) as PhotoJson;
  assert.deepEqual(written, printed, 'the file holds what --json printed');
  assert.deepEqual([written.width, written.height], [512, 512]);
  assert.equal(written.model.schema, 'kaggle15');
  assert.ok(written.model.name.length > 0 && written.model.version.length > 0);
  assert.equal(written.faces.length, 1);
  const [face] = written.faces;
  assert.ok(face.score > 0.5 && face.score <= 1);
  assert.deepEqual(face.keypoints.map((k) => k.name), KAGGLE15.points);
  // Her face (checked by eye on the annotated image) lies in x 180–275, y 75–180 of the 512x512 photo.
  for (const k of face.keypoints) assert.ok(k.x > 180 && k.x < 275 && k.y > 75 && k.y < 180, `${k.name} at (${k.x}, ${k.y}) is off her face`);
  // The subject's left is on the image's right; brows above eyes above nose above mouth.
  const leftEye = point(written, 0, 'left_eye_center');
  const rightEye = point(written, 0, 'right_eye_center');
  assert.ok(leftEye.x - rightEye.x > 25, 'eyes apart, subject-left on the image right');
  assert.ok(point(written, 0, 'left_eyebrow_inner_end').y < leftEye.y);
  assert.ok(point(written, 0, 'nose_tip').y > leftEye.y + 10);
  assert.ok(point(written, 0, 'mouth_center_top_lip').y > point(written, 0, 'nose_tip').y);
  assert.ok(point(written, 0, 'mouth_center_bottom_lip').y > point(written, 0, 'mouth_center_top_lip').y);
  assert.ok(point(written, 0, 'mouth_left_corner').x > point(written, 0, 'mouth_right_corner').x);

  const annotated = await sharp(join(out, 'astronaut.annotated.jpg')).metadata();
  assert.deepEqual([annotated.format, annotated.width, annotated.height], ['jpeg', 512, 512]);
  // The drawing changed the photo around the eyes and nothing in the far corner.
  const original = await sharp(SAMPLE).removeAlpha().raw().toBuffer();
  const drawn = await sharp(join(out, 'astronaut.annotated.jpg')).raw().toBuffer();
  // Summed |difference| over R, G, B at one pixel.
  const change = (x: number, y: number): number => {
    const i = (Math.round(y) * 512 + Math.round(x)) * 3;
    return Math.abs(drawn[i] - original[i]) + Math.abs(drawn[i + 1] - original[i + 1]) + Math.abs(drawn[i + 2] - original[i + 2]);
  };
  assert.ok(change(leftEye.x, leftEye.y) > 100, `a (lime) dot is drawn on the left eye: change ${change(leftEye.x, leftEye.y)}`);
  assert.ok(change(500, 500) < 30, 'far from the face, only JPEG noise');
  assert.deepEqual((await readdir(out)).sort(), ['astronaut.annotated.jpg', 'astronaut.keypoints.json']);
});

test('several photos: grey, RGBA, EXIF-rotated and faceless ones, each with its own outputs', async (t) => {
  if (!haveModel(t)) return;
  const dir = await tempDir(t);
  const grey = join(dir, 'grey.png');
  await sharp(SAMPLE).toColourspace('b-w').png().toFile(grey);
  const rgba = join(dir, 'rgba.png');
  await sharp(SAMPLE).ensureAlpha(0.5).png().toFile(rgba);
  const rotated = join(dir, 'rotated.jpg');
  await sharp(SAMPLE).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(rotated);
  const empty = join(dir, 'wall.webp');
  await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 190, b: 170 } } }).webp().toFile(empty);
  const out = join(dir, 'out');
  const run = await runCli(['predict', grey, rgba, rotated, empty, '--out', out, '--threads', '2']);
  assert.equal(run.code, 0, run.stderr);
  const read = async (stem: string): Promise<PhotoJson> => JSON.parse(await readFile(join(out, `${stem}.keypoints.json`), 'utf8')) as PhotoJson;
  const reference = JSON.parse((await runCli(['predict', SAMPLE, '--out', join(dir, 'ref'), '--json', '--threads', '2'])).stdout) as PhotoJson;
  const refEye = point(reference, 0, 'left_eye_center');
  for (const stem of ['grey', 'rgba', 'rotated']) {
    const doc = await read(stem);
    assert.deepEqual([doc.width, doc.height, doc.faces.length], [512, 512, 1], stem);
    const eye = point(doc, 0, 'left_eye_center');
    assert.ok(Math.hypot(eye.x - refEye.x, eye.y - refEye.y) < 3, `${stem}: left eye at (${eye.x}, ${eye.y}), colour original (${refEye.x}, ${refEye.y})`);
    const meta = await sharp(join(out, `${stem}.annotated.jpg`)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [512, 512, 3], `${stem}: annotated as displayed, in colour`);
  }
  const wall = await read('wall');
  assert.deepEqual([wall.width, wall.height, wall.faces], [300, 200, []]);
  assert.match(run.stdout, /wall\.webp: 0 faces/);
});

/** Files a test put in an output folder before a run: they must come through a failed run unchanged. */
const EARLIER = ['keep.txt', 'astronaut.keypoints.json'];

/** Runs fkd predict expecting failure; checks the message matches `pattern` and nothing new is in `out`. */
async function assertRefused(args: string[], out: string, pattern: RegExp, what: string): Promise<void> {
  const run = await runCli(['predict', ...args, '--out', out, '--threads', '2']);
  assert.notEqual(run.code, 0, `${what}: exit code`);
  assert.match(run.stderr, pattern, `${what}: ${run.stderr}`);
  assert.doesNotMatch(run.stderr, /\n\s+at /, `${what}: no stack trace`);
  const left = existsSync(out) ? (await readdir(out)).filter((name) => !EARLIER.includes(name)) : [];
  assert.deepEqual(left, [], `${what}: no outputs left behind`);
}

test('bad photos: not an image, 30000x30000 header, truncated JPEG and PNG: errors naming the file, exit ≠ 0, no outputs', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const text = join(dir, 'holiday.jpg');
  await writeFile(text, 'not a photo at all\n');
  await assertRefused([text], out, new RegExp(`${text}: not a readable image`), 'text file');
  const huge = join(dir, 'huge.png');
  await writeFile(huge, oversizedPngHeader(30000, 30000));
  await assertRefused([huge], out, new RegExp(`${huge}: image is 30000x30000 = 900000000 pixels, above the limit of 40000000`), '30000x30000');
  await assertRefused([huge, '--max-pixels', '0'], out, /--max-pixels must be an integer from 1/, 'bad --max-pixels');
  if (!haveModel(t)) return;

  // A truncated photo passes the header check and fails while decoding, after the model loaded
  // and after a good photo's outputs were written: those are removed again.
  const jpeg = await sharp(SAMPLE).jpeg({ quality: 90 }).toBuffer();
  const cutJpeg = join(dir, 'cut.jpg');
  await writeFile(cutJpeg, jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  await assertRefused([SAMPLE, cutJpeg], out, new RegExp(`${cutJpeg}: could not decode image`), 'truncated JPEG after a good photo');
  assert.equal(existsSync(out), false, 'the output folder this run made is removed again');

  // A folder that existed gains nothing, and an earlier run's output there stays as it was.
  await mkdir(out);
  await writeFile(join(out, 'keep.txt'), 'mine');
  await writeFile(join(out, 'astronaut.keypoints.json'), 'earlier run');
  const png = await readFile(SAMPLE);
  const cutPng = join(dir, 'cut.png');
  await writeFile(cutPng, png.subarray(0, Math.floor(png.length * 0.5)));
  await assertRefused([SAMPLE, cutPng], out, new RegExp(`${cutPng}: could not decode image`), 'truncated PNG after a good photo');
  assert.equal(await readFile(join(out, 'keep.txt'), 'utf8'), 'mine');
  assert.equal(await readFile(join(out, 'astronaut.keypoints.json'), 'utf8'), 'earlier run');
});

test('models that are not ours: a BlazeFace ONNX file and random bytes, named in the error', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  await assertRefused([SAMPLE, '--model', BLAZEFACE_MODELS.front.file], out, new RegExp(`${BLAZEFACE_MODELS.front.file}: not an fkd keypoint model`), 'foreign ONNX');
  const junk = join(dir, 'junk.onnx');
  await writeFile(junk, Buffer.from('definitely not protobuf'.repeat(10)));
  await assertRefused([SAMPLE, '--model', junk], out, new RegExp(`${junk}: not a valid ONNX`), 'random bytes');
  await assertRefused([SAMPLE, '--model', join(dir, 'missing.onnx')], out, /missing\.onnx: no such file/, 'missing model');
});

test('usage: photos need --out; two photos with one stem; photos and --kaggle together', async (t) => {
  const dir = await tempDir(t);
  const noOut = await runCli(['predict', SAMPLE]);
  assert.notEqual(noOut.code, 0);
  assert.match(noOut.stderr, /photos need --out DIR/);
  const other = join(dir, 'astronaut.jpg');
  await sharp(SAMPLE).jpeg().toFile(other);
  await assertRefused([SAMPLE, other], join(dir, 'out'), /would both write .*astronaut\.keypoints\.json/, 'same stem');
  const both = await runCli(['predict', SAMPLE, '--kaggle', 'test.csv', '--out', join(dir, 'x')]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /either photo files or --kaggle/);
});
