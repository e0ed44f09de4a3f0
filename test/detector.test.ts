import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { decodeImage, type RawImage } from '../src/data/image.js';
import { protocolFaceBox, type FaceBox } from '../src/data/crop.js';
import { parseFrameName, parseYtf68Csv, readYtf68SplitFile, YTF68_FOLDERS } from '../src/data/landmarks/ytf68.js';
import { findDataDir } from '../src/util/paths.js';
import { FaceDetector, ModelLoadError, type DetectedFace } from '../src/inference/detector/face-detector.js';
import { decodeAnchors, weightedNms, type RawDetection } from '../src/inference/detector/decode.js';
import { BLAZEFACE_MODELS, REGRESSORS_PER_ANCHOR } from '../src/inference/detector/blazeface-model.js';
import { inputToImage, letterbox, normaliseChannel } from '../src/inference/detector/letterbox.js';
import { FITTED_BOX_MAPPINGS, mapToProtocolBox, MAPPING_FEATURES, mappingFeatures, type MappingLandmarks } from '../src/inference/detector/box-mapping.js';
import { fitBoxMapping, leastSquares, type MappingSample } from '../src/inference/detector/fit-mapping.js';
import { bestMatch, boxErrors, squareIou } from '../src/inference/detector/protocol-match.js';
import { tempDir } from './helpers.js';

const NO_DATA = 'shared data not found (set FKD_DATA or provide ../shared/data); detection on real ytf68 faces not run';

/** Tolerances for one clear face: the mapped box's centre within 10 % of the side, the side within 20 %. */
const CENTRE_TOLERANCE = 0.1;
const SCALE_TOLERANCE = 0.2;

function assertNearProtocolBox(face: DetectedFace | undefined, truth: FaceBox, what: string): void {
  assert.ok(face, `${what}: no face found`);
  const { centreError, scaleRatio } = boxErrors(face.protocolBox, truth);
  const detail = `${what}: predicted ${JSON.stringify(face.protocolBox)}, true ${JSON.stringify(truth)}`;
  assert.ok(centreError < CENTRE_TOLERANCE, `centre off by ${centreError.toFixed(3)} of the side; ${detail}`);
  assert.ok(Math.abs(Math.log(scaleRatio)) < Math.log(1 + SCALE_TOLERANCE), `side ratio ${scaleRatio.toFixed(3)}; ${detail}`);
}

// ---------------------------------------------------------------- pure parts (no model, no data)

test('decodeAnchors: a firing anchor decodes relative to its cell centre, in input pixels; others are dropped', () => {
  const model = BLAZEFACE_MODELS.back;
  const [fine, coarse] = model.grids;
  const fineScores = new Float32Array(fine.cells * fine.cells * fine.perCell).fill(-10);
  const fineBoxes = new Float32Array(fineScores.length * REGRESSORS_PER_ANCHOR);
  const coarseScores = new Float32Array(coarse.cells * coarse.cells * coarse.perCell).fill(-10);
  const coarseBoxes = new Float32Array(coarseScores.length * REGRESSORS_PER_ANCHOR);
  // Coarse grid (8x8, cells of 32 px at 256): cell (x 3, y 5), its second anchor.
  const anchor = (5 * 8 + 3) * coarse.perCell + 1;
  coarseScores[anchor] = 2; // sigmoid(2) = 0.881
  coarseBoxes.set([4, -6, 40, 44, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], anchor * REGRESSORS_PER_ANCHOR);
  const found = decodeAnchors(
    [
      { grid: fine, scores: fineScores, boxes: fineBoxes },
      { grid: coarse, scores: coarseScores, boxes: coarseBoxes },
    ],
    256,
    0.5,
  );
  assert.equal(found.length, 1);
  const [d] = found;
  const ax = 3.5 * 32;
  const ay = 5.5 * 32;
  assert.ok(Math.abs(d.score - 1 / (1 + Math.exp(-2))) < 1e-9);
  assert.deepEqual([d.cx, d.cy, d.width, d.height], [ax + 4, ay - 6, 40, 44]);
  assert.deepEqual([...d.keypoints], [ax + 1, ay + 2, ax + 3, ay + 4, ax + 5, ay + 6, ax + 7, ay + 8, ax + 9, ay + 10, ax + 11, ay + 12]);
  assert.equal(decodeAnchors([{ grid: coarse, scores: coarseScores, boxes: coarseBoxes }], 256, 0.9).length, 0, 'score 0.881 is below 0.9');
  assert.throws(() => decodeAnchors([{ grid: coarse, scores: fineScores, boxes: coarseBoxes }], 256, 0.5), /expected 384/);
});

function raw(score: number, cx: number, cy: number, side: number): RawDetection {
  return { score, cx, cy, width: side, height: side, keypoints: Float64Array.of(cx, cy, cx + 1, cy + 1, 0, 0, 0, 0, 0, 0, 0, 0) };
}

test('weightedNms: overlapping detections merge into their score-weighted mean with the best score; separate faces stay', () => {
  const merged = weightedNms([raw(0.6, 110, 100, 40), raw(0.9, 100, 100, 40), raw(0.7, 300, 50, 20)], 0.3);
  assert.equal(merged.length, 2);
  const [a, b] = merged;
  assert.equal(a.score, 0.9);
  assert.ok(Math.abs(a.cx - (0.9 * 100 + 0.6 * 110) / 1.5) < 1e-9, `cx ${a.cx}`);
  assert.ok(Math.abs(a.keypoints[2] - ((0.9 * 101 + 0.6 * 111) / 1.5)) < 1e-9);
  assert.deepEqual([b.score, b.cx, b.cy, b.width], [0.7, 300, 50, 20]);
  assert.deepEqual(weightedNms([], 0.3), []);
});

test('letterbox: the image is centred, scaled by its longer side, padded black; inputToImage maps back', async () => {
  // 200x100 RGB, black but a white 10x10 block at x 150–159, y 20–29.
  const width = 200;
  const height = 100;
  const data = new Uint8Array(width * height * 3);
  for (let y = 20; y < 30; y++) for (let x = 150; x < 160; x++) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  const size = 64;
  const tensor = new Float32Array(size * size * 3).fill(123);
  const t = await letterbox({ width, height, channels: 3, data }, size, tensor);
  assert.deepEqual(t, { scaleX: 200 / 64, scaleY: 100 / 32, padX: 0, padY: 16 });
  const at = (u: number, v: number) => tensor[(v * size + u) * 3];
  assert.equal(at(10, 2), normaliseChannel(0), 'top padding is black');
  assert.equal(at(10, 60), normaliseChannel(0), 'bottom padding is black');
  // The block's centre (154.5, 24.5) lands at input (49.6, 23.84): bright there.
  assert.ok(at(49, 23) > 0.5, `block centre value ${at(49, 23)}`);
  const back = inputToImage(t, (154.5 + 0.5) / t.scaleX + t.padX, (24.5 + 0.5) / t.scaleY + t.padY);
  assert.ok(Math.abs(back.x - 154.5) < 1e-9 && Math.abs(back.y - 24.5) < 1e-9, JSON.stringify(back));
  // A grey image fills all three channels alike.
  const grey = new Uint8Array(width * height).fill(200);
  await letterbox({ width, height, channels: 1, data: grey }, size, tensor);
  const mid = (40 * size + 30) * 3;
  assert.deepEqual([tensor[mid], tensor[mid + 1], tensor[mid + 2]], Array(3).fill(Math.fround(normaliseChannel(200))));
  await assert.rejects(letterbox({ width, height, channels: 3, data }, size, new Float32Array(10)), /tensor holds 10 floats/);
});

test('leastSquares solves an exact system and fitBoxMapping recovers known coefficients', () => {
  const rows = [[1, 0], [1, 1], [1, 2], [1, 3]];
  const coef = leastSquares(rows, rows.map(([, x]) => 2 - 0.5 * x));
  assert.ok(Math.abs(coef[0] - 2) < 1e-12 && Math.abs(coef[1] + 0.5) < 1e-12, JSON.stringify(coef));
  assert.throws(() => leastSquares([[1, 2], [2, 4], [3, 6]], [1, 2, 3]), /combination/);

  // Synthetic faces whose true boxes follow a known mapping exactly.
  const truthMapping = {
    features: [...MAPPING_FEATURES],
    cx: [0.01, 0.3, 0, 0.2, 0, 0.1, 0, 0, 0, -0.05],
    cy: [0.1, 0, 0.4, 0, 0.1, 0, 0.2, 0.05, 0, 0],
    s: [1.1, 0, 0, 0, 0, 0, 0, 0.5, 0.3, 0.02],
  };
  let state = 7;
  const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const samples: MappingSample[] = Array.from({ length: 60 }, () => {
    const box = { x: 100 + 50 * rand(), y: 80 + 50 * rand(), width: 60 + 20 * rand(), height: 60 + 20 * rand() };
    const bx = box.x + box.width / 2;
    const by = box.y + box.height / 2;
    const p = (dx: number, dy: number) => ({ x: bx + box.width * (dx + 0.1 * rand()), y: by + box.height * (dy + 0.1 * rand()) });
    const landmarks: MappingLandmarks = { rightEye: p(-0.2, -0.15), leftEye: p(0.2, -0.15), noseTip: p(0, 0.05), mouthCentre: p(0, 0.25) };
    return { box, landmarks, truth: mapToProtocolBox(truthMapping, box, landmarks) };
  });
  const fit = fitBoxMapping(samples);
  for (const key of ['cx', 'cy', 's'] as const) {
    fit.mapping[key].forEach((c, i) => assert.ok(Math.abs(c - truthMapping[key][i]) < 1e-6, `${key}[${MAPPING_FEATURES[i]}] = ${c}, want ${truthMapping[key][i]}`));
    assert.ok(fit.residuals[key].rms < 1e-9);
  }
});

test('squareIou and bestMatch: identical squares 1, disjoint 0, the best overlap above the threshold wins', () => {
  const a = { cx: 50, cy: 50, s: 20 };
  assert.equal(squareIou(a, a), 1);
  assert.equal(squareIou(a, { cx: 80, cy: 50, s: 20 }), 0);
  assert.ok(Math.abs(squareIou(a, { cx: 60, cy: 50, s: 20 }) - 200 / 600) < 1e-12);
  assert.equal(bestMatch([{ cx: 80, cy: 50, s: 20 }, { cx: 52, cy: 50, s: 20 }, { cx: 51, cy: 50, s: 20 }], a), 2);
  assert.equal(bestMatch([{ cx: 60, cy: 50, s: 20 }], a), -1, 'IoU 1/3 is below 0.5');
});

test('the fitted mapping is stored for both detector variants, and near the plain 1.25x box for a frontal face', () => {
  const box = { x: 100, y: 100, width: 80, height: 80 };
  const frontal: MappingLandmarks = { rightEye: { x: 124, y: 125 }, leftEye: { x: 156, y: 125 }, noseTip: { x: 140, y: 145 }, mouthCentre: { x: 140, y: 162 } };
  assert.equal(mappingFeatures(box, frontal).features.length, MAPPING_FEATURES.length);
  for (const variant of ['back', 'front'] as const) {
    const mapped = mapToProtocolBox(FITTED_BOX_MAPPINGS[variant], box, frontal);
    assert.ok(Math.abs(mapped.cx - 140) < 0.15 * 80 && Math.abs(mapped.cy - 140) < 0.3 * 80, `${variant}: ${JSON.stringify(mapped)}`);
    assert.ok(mapped.s > 80 && mapped.s < 2 * 80, `${variant}: side ${mapped.s}`);
  }
});

// ---------------------------------------------------------------- model loading

test('a corrupt or missing model file is a ModelLoadError naming the file', async (t) => {
  const dir = await tempDir(t, 'fkd-detector-');
  const corrupt = join(dir, 'corrupt.onnx');
  // The real model's first kilobytes: a plausible header, then nothing.
  writeFileSync(corrupt, readFileSync(BLAZEFACE_MODELS.back.file).subarray(0, 1024));
  await assert.rejects(FaceDetector.load({ variants: ['back'], modelFile: corrupt }), (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, `expected ModelLoadError, got ${err}`);
    assert.equal(err.file, corrupt);
    assert.match(err.message, /cannot load face detector model .*corrupt\.onnx: not a valid ONNX model/);
    return true;
  });
  await assert.rejects(FaceDetector.load({ modelFile: corrupt }), /modelFile replaces one network; 2 variants given/);
  const missing = join(dir, 'missing.onnx');
  await assert.rejects(FaceDetector.load({ variants: ['back'], modelFile: missing }), (err: unknown) => err instanceof ModelLoadError && /missing\.onnx: cannot read the file/.test(err.message));
});

test('the shipped model files are the ones NOTICE.md names (sha256)', () => {
  const notice = readFileSync(join(dirname(BLAZEFACE_MODELS.back.file), 'NOTICE.md'), 'utf8');
  for (const model of Object.values(BLAZEFACE_MODELS)) {
    const digest = createHash('sha256').update(readFileSync(model.file)).digest('hex');
    assert.ok(notice.includes(`\`${basename(model.file)}\` | \`${digest}\``), `${basename(model.file)} has sha256 ${digest}, not the one in NOTICE.md`);
  }
});

// ---------------------------------------------------------------- detection

let detector: FaceDetector;
before(async () => {
  detector = await FaceDetector.load({ threads: 2 });
});
after(async () => {
  await detector.close();
});

test('no face: a flat grey image and a noise image give empty lists', async () => {
  const width = 320;
  const height = 240;
  assert.deepEqual(await detector.detect({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(128) }), []);
  let state = 12345;
  const noise = Uint8Array.from({ length: width * height * 3 }, () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24);
  assert.deepEqual(await detector.detect({ width, height, channels: 3, data: noise }), []);
  assert.deepEqual(await detector.detect({ width, height, channels: 1, data: new Uint8Array(width * height) }), []);
});

interface LabelledFace {
  readonly file: string;
  readonly box: FaceBox;
}

/** Labelled test-split images by name (reading the label CSVs and split.json, not every image header). */
function ytf68TestFaces(root: string): Map<string, LabelledFace> {
  const split = readYtf68SplitFile(join(root, 'split.json'));
  const faces = new Map<string, LabelledFace>();
  for (const { folder, labels } of YTF68_FOLDERS) {
    const csv = join(root, labels);
    for (const row of parseYtf68Csv(readFileSync(csv, 'utf8'), csv)) {
      if (split.splitOf.get(parseFrameName(row.name)!.identity) !== 'test') continue;
      faces.set(`${folder}/${row.name}`, { file: join(root, folder, row.name), box: protocolFaceBox(row.points) });
    }
  }
  return faces;
}

/** Test-split frames with one person in view (others, e.g. Adam_Sandler_01, show people behind). */
const CLEAR_FACES = ['training/Luis_Fonsi_21.jpg', 'training/Lincoln_Chafee_52.jpg', 'training/Laura_Bozzo_41.jpg', 'training/Paul_Otellini_01.jpg', 'training/Flavia_Pennetta_32.jpg', 'training/Queen_Rania_10.jpg'];

function labelled(t: { skip: (message: string) => void }): Map<string, LabelledFace> | undefined {
  const root = findDataDir('ytf68');
  if (!root) {
    t.skip(NO_DATA);
    return undefined;
  }
  return ytf68TestFaces(root);
}

test('ytf68 test images: one face each, its mapped box near the protocol box, landmarks named by the subject', async (t) => {
  const faces = labelled(t);
  if (!faces) return;
  for (const name of CLEAR_FACES) {
    const face = faces.get(name);
    assert.ok(face, `${name} is a labelled test-split image`);
    const found = await detector.detect(await decodeImage(face.file));
    assert.equal(found.length, 1, `${name}: ${found.length} faces`);
    assertNearProtocolBox(found[0], face.box, name);
    const { rightEye, leftEye, mouthCentre, noseTip } = found[0].landmarks;
    assert.ok(rightEye.x < leftEye.x, `${name}: the subject's right eye is on the image's left`);
    assert.ok(mouthCentre.y > noseTip.y && noseTip.y > rightEye.y, `${name}: eyes above nose above mouth`);
    assert.ok(found[0].score > 0.5 && found[0].score <= 1);
  }
});

test('a grey (one-channel) copy of a face is found like the colour one', async (t) => {
  const faces = labelled(t);
  if (!faces) return;
  const face = faces.get(CLEAR_FACES[0])!;
  const grey = await decodeImage(await sharp(face.file).toColourspace('b-w').png().toBuffer());
  assert.equal(grey.channels, 1);
  const [found] = await detector.detect(grey);
  assertNearProtocolBox(found, face.box, 'grey copy');
});

test('several faces on one canvas: each found once, boxes where they were placed', async (t) => {
  const faces = labelled(t);
  if (!faces) return;
  const chosen = CLEAR_FACES.slice(0, 3).map((name) => faces.get(name)!);
  // Each frame scaled to 200 px high, side by side with 40 px gaps, on a mid-grey canvas.
  const rowHeight = 200;
  const gap = 40;
  const placed: { left: number; top: number; scale: number; input: Buffer }[] = [];
  let left = gap;
  for (const face of chosen) {
    const meta = await sharp(face.file).metadata();
    const scale = rowHeight / meta.height!;
    const input = await sharp(face.file).resize({ height: rowHeight }).png().toBuffer();
    const width = (await sharp(input).metadata()).width!;
    placed.push({ left, top: gap, scale: width / meta.width!, input });
    assert.ok(Math.abs(width / meta.width! - scale) < 0.02);
    left += width + gap;
  }
  const canvas = await sharp({ create: { width: left, height: rowHeight + 2 * gap, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite(placed.map(({ input, left, top }) => ({ input, left, top })))
    .png()
    .toBuffer();
  const found = await detector.detect(await decodeImage(canvas));
  assert.equal(found.length, chosen.length, `found ${found.length} faces: ${JSON.stringify(found.map((f) => f.protocolBox))}`);
  const used = new Set<number>();
  chosen.forEach((face, i) => {
    const { left, top, scale } = placed[i];
    // Image point x → canvas (x + 0.5) · scale − 0.5 + left (pixel centres at integers).
    const expected = { cx: (face.box.cx + 0.5) * scale - 0.5 + left, cy: (face.box.cy + 0.5) * scale - 0.5 + top, s: face.box.s * scale };
    const k = bestMatch(found.map((f) => f.protocolBox), expected);
    assert.ok(k >= 0 && !used.has(k), `face ${i} (${CLEAR_FACES[i]}) not matched once`);
    used.add(k);
    assertNearProtocolBox(found[k], expected, `face ${i} on the canvas`);
  });
});

test('an EXIF-rotated JPEG: with applyExifOrientation the face is found upright where it was', async (t) => {
  const faces = labelled(t);
  if (!faces) return;
  const face = faces.get(CLEAR_FACES[1])!;
  const upright = await decodeImage(face.file);
  // Orientation 6 means "turn 90° clockwise to display", so store the pixels turned 90° anticlockwise.
  const stored = await sharp(face.file).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const shown: RawImage = await decodeImage(stored, { applyExifOrientation: true });
  assert.deepEqual([shown.width, shown.height], [upright.width, upright.height]);
  const found = await detector.detect(shown);
  assert.equal(found.length, 1);
  assertNearProtocolBox(found[0], face.box, 'EXIF-rotated copy');
  // Without the tag applied the stored image is sideways: no face box lands on the upright face.
  const sideways = await detector.detect(await decodeImage(stored));
  assert.equal(bestMatch(sideways.map((f) => f.protocolBox), face.box), -1);
});

test('a face filling the whole frame (tighter than the protocol box) is found by the front network', async (t) => {
  const faces = labelled(t);
  if (!faces) return;
  const face = faces.get(CLEAR_FACES[0])!;
  // A 96x96 crop of the central 80 % of the protocol box: the face runs off every edge.
  const side = Math.round(0.8 * face.box.s);
  const left = Math.round(face.box.cx - side / 2);
  const top = Math.round(face.box.cy - side / 2);
  const k = 96 / side;
  const tight = await decodeImage(await sharp(face.file).extract({ left, top, width: side, height: side }).resize(96, 96).png().toBuffer());
  const truth = { cx: (face.box.cx + 0.5 - left) * k - 0.5, cy: (face.box.cy + 0.5 - top) * k - 0.5, s: face.box.s * k };
  const found = await detector.detect(tight);
  assert.equal(found.length, 1);
  assertNearProtocolBox(found[0], truth, 'tight crop');
  // The back network alone misses it: why the default runs both.
  const backOnly = await FaceDetector.load({ variants: ['back'] });
  t.after(() => backOnly.close());
  assert.equal(bestMatch((await backOnly.detect(tight)).map((f) => f.protocolBox), truth), -1);
});

test('concurrent detect() calls on one detector give the same answers as one at a time', async (t) => {
  const faces = labelled(t);
  if (!faces) return;
  const images = await Promise.all(CLEAR_FACES.slice(0, 4).map((name) => decodeImage(faces.get(name)!.file)));
  const oneByOne: DetectedFace[][] = [];
  for (const image of images) oneByOne.push(await detector.detect(image));
  const together = await Promise.all(images.map((image) => detector.detect(image)));
  assert.deepEqual(together, oneByOne);
});
