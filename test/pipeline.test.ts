import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { imagePointsToCrop, type FaceBox } from '../src/data/crop.js';
import { InputError } from '../src/data/errors.js';
import { readYtf68, type Ytf68Labelled } from '../src/data/landmarks/ytf68.js';
import { bestMatch } from '../src/inference/detector/index.js';
import { closeCachedPipelines, detectKeypoints, KeypointPipeline, PHOTO_MAX_PIXELS, type FaceKeypoints } from '../src/inference/pipeline.js';
import { DEFAULT_MODEL_FILE, describeModel, pointNames } from '../src/inference/photo/model-info.js';
import type { FkdOnnxInfo } from '../src/inference/onnx/metadata.js';
import { KAGGLE15, mapPoints, YTF15_MAPPING } from '../src/schema/index.js';
import { findDataDir } from '../src/util/paths.js';
import { tempDir } from './helpers.js';
import { oversizedPngHeader } from './photo-fixtures.js';

/**
 * Tolerances, in 96x96 crop pixels of the true protocol box. The model's dev RMSE is about
 * 2.5 px; through the whole photo pipeline (detector-predicted crop box) the 860 ytf68 test
 * images measured RMSE 2.6, median face 2.1, 99th percentile 5.5, worst 14.9 (two profile
 * frames). A face is accepted below 10 px (4x the dev RMSE, a tenth of the face box: a crop
 * in the wrong place or left/right points swapped gives 20+ px), and the median must stay
 * below 4 px, which a systematic offset of more than ~1.5 px would break.
 */
const FACE_RMSE_LIMIT = 10;
const MEDIAN_RMSE_LIMIT = 4;
const SAMPLE_SIZE = 20;

const NO_MODEL = `no trained keypoint model at ${DEFAULT_MODEL_FILE} (the lead commits models/default.onnx; export one with "fkd export RUN --onnx ${DEFAULT_MODEL_FILE}")`;
const NO_DATA = 'shared data not found (set FKD_DATA or provide ../shared/data): ytf68 photos not run';

let pipeline: KeypointPipeline | undefined;
let sample: Ytf68Labelled[] | undefined;
let root: string | undefined;

before(async () => {
  if (!existsSync(DEFAULT_MODEL_FILE)) return;
  pipeline = await KeypointPipeline.load({ threads: 2 });
  root = findDataDir('ytf68');
  if (root) {
    const test = (await readYtf68(root)).labelled.filter((image) => image.split === 'test');
    // Evenly spread over the split (label-file order groups frames by identity): 20 people.
    const step = test.length / SAMPLE_SIZE;
    sample = Array.from({ length: SAMPLE_SIZE }, (_, i) => test[Math.floor(i * step)]);
  }
});
after(async () => {
  await pipeline?.close();
  await closeCachedPipelines();
});

function needModel(t: TestContext): KeypointPipeline | undefined {
  if (!pipeline) t.skip(NO_MODEL);
  return pipeline;
}

function needPhotos(t: TestContext): { pipeline: KeypointPipeline; sample: Ytf68Labelled[]; root: string } | undefined {
  if (!pipeline) {
    t.skip(NO_MODEL);
    return undefined;
  }
  if (!sample || !root) {
    t.skip(NO_DATA);
    return undefined;
  }
  return { pipeline, sample, root };
}

/** The labelled image's 15 protocol keypoints in image pixels (x0, y0, …). */
function truthPoints(image: Ytf68Labelled): Float64Array {
  return mapPoints(YTF15_MAPPING, image.points);
}

/** RMSE between a face's keypoints and true image points, in crop pixels of the true box. */
function cropRmse(face: FaceKeypoints, truth: ArrayLike<number>, box: FaceBox): number {
  const predicted = imagePointsToCrop(box, face.keypoints.flatMap((k) => [k.x, k.y]));
  const expected = imagePointsToCrop(box, truth);
  let sum = 0;
  for (let i = 0; i < expected.length; i++) sum += (predicted[i] - expected[i]) ** 2;
  return Math.sqrt(sum / expected.length);
}

/** The face whose crop box matches `box` (IoU ≥ DETECTION_IOU), or a failed assertion. */
function faceAt(faces: readonly FaceKeypoints[], box: FaceBox, what: string): FaceKeypoints {
  const k = bestMatch(faces.map((f) => f.cropBox), box);
  assert.ok(k >= 0, `${what}: no face at the labelled box ${JSON.stringify(box)}; found ${JSON.stringify(faces.map((f) => f.cropBox))}`);
  return faces[k];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

test('20 ytf68 test-split photos: each face found, keypoints in photo pixels near the labels', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  const errors: number[] = [];
  for (const image of ctx.sample) {
    const result = await ctx.pipeline.detect(join(ctx.root, image.path));
    assert.deepEqual([result.width, result.height], [image.width, image.height], image.path);
    const face = faceAt(result.faces, image.box, image.path);
    assert.deepEqual(
      face.keypoints.map((k) => k.name),
      KAGGLE15.points,
      'keypoints named in schema order',
    );
    const rmse = cropRmse(face, truthPoints(image), image.box);
    assert.ok(rmse < FACE_RMSE_LIMIT, `${image.path}: RMSE ${rmse.toFixed(2)} crop px`);
    errors.push(rmse);
    const { decodeMs, detectMs, keypointsMs, totalMs } = result.timings;
    assert.ok(decodeMs >= 0 && detectMs >= 0 && keypointsMs >= 0 && totalMs >= decodeMs + detectMs + keypointsMs - 1e-6);
  }
  const mid = median(errors);
  t.diagnostic(`per-face RMSE (crop px): median ${mid.toFixed(2)}, worst ${Math.max(...errors).toFixed(2)}`);
  assert.ok(mid < MEDIAN_RMSE_LIMIT, `median RMSE ${mid.toFixed(2)} crop px`);
});

test('the same photo as bytes, as WebP, and with an alpha channel gives the same face', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  const image = ctx.sample[0];
  const file = join(ctx.root, image.path);
  const fromPath = await ctx.pipeline.detect(file);
  const { timings: _t1, ...pathResult } = fromPath;
  const { timings: _t2, ...bytesResult } = await ctx.pipeline.detect(await readFile(file));
  assert.deepEqual(bytesResult, pathResult, 'bytes and path are the same photo');

  // Alpha 255 everywhere: the RGB pixels are those of a lossless PNG copy, so the answer is identical.
  const png = await sharp(file).png().toBuffer();
  const rgba = await sharp(file).ensureAlpha(1).png().toBuffer();
  assert.equal((await sharp(rgba).metadata()).channels, 4);
  const { timings: _t3, ...pngResult } = await ctx.pipeline.detect(png);
  const { timings: _t4, ...rgbaResult } = await ctx.pipeline.detect(rgba);
  assert.deepEqual(rgbaResult, pngResult, 'RGBA gives what RGB gives');

  const webp = await sharp(file).webp({ quality: 95 }).toBuffer();
  const face = faceAt((await ctx.pipeline.detect(webp)).faces, image.box, 'WebP copy');
  assert.ok(cropRmse(face, truthPoints(image), image.box) < FACE_RMSE_LIMIT);
});

test('a grey (one-channel) photo: the face and its keypoints are found as in colour', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  for (const image of ctx.sample.slice(0, 3)) {
    const file = join(ctx.root, image.path);
    const grey = await sharp(file).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(grey).metadata()).channels, 1);
    const colourFace = faceAt((await ctx.pipeline.detect(file)).faces, image.box, `${image.path} in colour`);
    const greyFace = faceAt((await ctx.pipeline.detect(grey)).faces, image.box, `${image.path} in grey`);
    const greyRmse = cropRmse(greyFace, truthPoints(image), image.box);
    assert.ok(greyRmse < FACE_RMSE_LIMIT, `${image.path} in grey: RMSE ${greyRmse.toFixed(2)}`);
    // The keypoint model sees luma either way; only the detector's input differs.
    const apart = cropRmse(greyFace, colourFace.keypoints.flatMap((k) => [k.x, k.y]), image.box);
    assert.ok(apart < 2, `${image.path}: grey and colour keypoints ${apart.toFixed(2)} crop px apart`);
  }
});

test('an EXIF-rotated JPEG: keypoints land on the same face points of the upright photo', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  const image = ctx.sample[1];
  const file = join(ctx.root, image.path);
  // Orientation 6 = "turn 90° clockwise to display": store the pixels turned 90° anticlockwise.
  // Orientation 3 = "turn 180°".
  for (const [orientation, stored] of [
    [6, -90],
    [3, 180],
  ] as const) {
    const rotated = await sharp(file).rotate(stored).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
    const result = await ctx.pipeline.detect(rotated);
    assert.deepEqual([result.width, result.height], [image.width, image.height], `orientation ${orientation}: size as displayed`);
    const face = faceAt(result.faces, image.box, `orientation ${orientation}`);
    const rmse = cropRmse(face, truthPoints(image), image.box);
    assert.ok(rmse < FACE_RMSE_LIMIT, `orientation ${orientation}: RMSE ${rmse.toFixed(2)} against the upright labels`);
  }
});

test('no face: a flat image and a smooth gradient give an empty list, not an error', async (t) => {
  const p = needModel(t);
  if (!p) return;
  const flat = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 150 } } }).jpeg().toBuffer();
  const result = await p.detect(flat);
  assert.deepEqual([result.width, result.height, result.faces], [320, 240, []]);
  const ramp = Buffer.alloc(256 * 64);
  for (let i = 0; i < ramp.length; i++) ramp[i] = i % 256;
  const gradient = await sharp(ramp, { raw: { width: 256, height: 64, channels: 1 } }).png().toBuffer();
  assert.deepEqual((await p.detect(gradient)).faces, []);
});

test('three faces side by side: three results, each with keypoints near its own labels', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  const chosen = [ctx.sample[2], ctx.sample[7], ctx.sample[12]];
  // Each frame scaled to 220 px high, 40 px gaps, on a mid-grey canvas.
  const rowHeight = 220;
  const gap = 40;
  const placed: { left: number; scale: number; input: Buffer }[] = [];
  let left = gap;
  for (const image of chosen) {
    const input = await sharp(join(ctx.root, image.path)).resize({ height: rowHeight }).png().toBuffer();
    const width = (await sharp(input).metadata()).width!;
    placed.push({ left, scale: width / image.width, input });
    left += width + gap;
  }
  const canvas = await sharp({ create: { width: left, height: rowHeight + 2 * gap, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite(placed.map(({ input, left: x }) => ({ input, left: x, top: gap })))
    .jpeg({ quality: 95 })
    .toBuffer();
  const result = await ctx.pipeline.detect(canvas);
  assert.equal(result.faces.length, chosen.length, `found ${result.faces.length} faces`);
  const matched = new Set<FaceKeypoints>();
  chosen.forEach((image, i) => {
    const { left: x0, scale } = placed[i];
    // Image point x → canvas (x + 0.5) · scale − 0.5 + offset (pixel centres at integers); y likewise.
    const toCanvas = (v: number, offset: number): number => (v + 0.5) * scale - 0.5 + offset;
    const box = { cx: toCanvas(image.box.cx, x0), cy: toCanvas(image.box.cy, gap), s: image.box.s * scale };
    const truth = Array.from(truthPoints(image), (v, k) => toCanvas(v, k % 2 === 0 ? x0 : gap));
    const face = faceAt(result.faces, box, `face ${i} (${image.path})`);
    assert.ok(!matched.has(face), `face ${i} matched a face already used`);
    matched.add(face);
    const rmse = cropRmse(face, truth, box);
    assert.ok(rmse < FACE_RMSE_LIMIT, `face ${i} (${image.path}): RMSE ${rmse.toFixed(2)} crop px`);
  });
});

test('an image above the pixel limit is refused from its header, before decoding', async (t) => {
  const p = needModel(t);
  if (!p) return;
  const header = oversizedPngHeader(30000, 30000);
  assert.ok(header.length < 1000);
  await assert.rejects(p.detect(header), (err: unknown) => err instanceof InputError && /30000x30000 = 900000000 pixels, above the limit of 40000000/.test(err.message));
  assert.equal(PHOTO_MAX_PIXELS, 40_000_000);
  // A per-call limit below a normal photo's size is honoured too.
  const small = await sharp({ create: { width: 200, height: 100, channels: 3, background: 'white' } }).png().toBuffer();
  await assert.rejects(p.detect(small, { maxPixels: 19_999 }), /200x100 = 20000 pixels, above the limit of 19999/);
  assert.deepEqual((await p.detect(small, { maxPixels: 20_000 })).faces, []);
});

test('not an image, and a truncated JPEG: InputErrors naming the input', async (t) => {
  const p = needModel(t);
  const dir = await tempDir(t);
  if (!p) return;
  const text = join(dir, 'notes.jpg');
  await writeFile(text, 'this is not a photo\n');
  await assert.rejects(p.detect(text), (err: unknown) => err instanceof InputError && err.message.startsWith(`${text}: not a readable image`));
  const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 10, g: 200, b: 30 } } }).jpeg().toBuffer();
  const truncated = join(dir, 'cut.jpg');
  await writeFile(truncated, jpeg.subarray(0, jpeg.length >> 1));
  await assert.rejects(p.detect(truncated), (err: unknown) => err instanceof InputError && err.message.startsWith(`${truncated}: could not decode image`));
});

test('model description: name, version, schema and point names; the card beside the ONNX file', async (t) => {
  const p = needModel(t);
  if (p) {
    assert.equal(p.model.file, DEFAULT_MODEL_FILE);
    assert.equal(p.model.schema, 'kaggle15');
    assert.deepEqual(p.model.points, KAGGLE15.points);
    assert.match(p.model.version, /^\S+$/);
    assert.ok(p.model.name.length > 0);
    const cardFile = DEFAULT_MODEL_FILE.replace(/\.onnx$/, '.card.json');
    if (existsSync(cardFile)) assert.equal(typeof p.model.card, 'object', `${cardFile} is read as the model card`);
  }
  // Pure parts, no model needed.
  const dir = await tempDir(t);
  const info = { schema: 'kaggle15', pointCount: 15, modelName: 'net', graphSha256: 'abcdef0123456789'.repeat(4), metadata: { schema: 'kaggle15', pointCount: 15, normalization: 'unit-v1' } } as FkdOnnxInfo;
  const file = join(dir, 'm.onnx');
  assert.deepEqual(describeModel(file, info), { name: 'net', version: 'abcdef012345', schema: 'kaggle15', points: KAGGLE15.points, file });
  await writeFile(join(dir, 'm.card.json'), JSON.stringify({ version: '2.1', dataset: 'ytf68' }));
  assert.deepEqual(describeModel(file, info).card, { version: '2.1', dataset: 'ytf68' });
  assert.equal(describeModel(file, info).version, '2.1', "the card's version wins over the checksum");
  assert.equal(describeModel(file, info).name, 'net', 'no name in the card: the spec name');
  await writeFile(join(dir, 'm.card.json'), JSON.stringify({ name: 'shipped', version: '2.2' }));
  assert.deepEqual([describeModel(file, info).name, describeModel(file, info).version], ['shipped', '2.2']);
  await writeFile(join(dir, 'm.card.json'), '{ not json');
  assert.throws(() => describeModel(file, info), (err: unknown) => err instanceof InputError && err.message.includes('m.card.json'));
  assert.deepEqual(pointNames({ schema: 'someone-elses', pointCount: 2 }), ['point_0', 'point_1']);
});

test('detectKeypoints: the library call answers as the pipeline does, loading the default model once', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  const file = join(ctx.root, ctx.sample[3].path);
  const expected = (await ctx.pipeline.detect(file)).faces;
  assert.deepEqual(await detectKeypoints(file, { threads: 2 }), expected);
  const again = await detectKeypoints(await readFile(file), { threads: 2 });
  assert.deepEqual(again, expected);
  await assert.rejects(detectKeypoints(file, { model: join(ctx.root, 'missing.onnx') }), (err: unknown) => err instanceof InputError && /missing\.onnx: no such file/.test(err.message));
});

test('concurrent detect() calls give what one at a time gives', async (t) => {
  const ctx = needPhotos(t);
  if (!ctx) return;
  const files = ctx.sample.slice(4, 8).map((image) => join(ctx.root, image.path));
  const strip = (r: { faces: FaceKeypoints[] }): FaceKeypoints[] => r.faces;
  const oneByOne: FaceKeypoints[][] = [];
  for (const file of files) oneByOne.push(strip(await ctx.pipeline.detect(file)));
  assert.deepEqual((await Promise.all(files.map((file) => ctx.pipeline.detect(file)))).map(strip), oneByOne);
});
