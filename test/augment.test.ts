import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeEngine, type NativeAugmentOptions } from '../src/engine/native.js';
import { FACE_PIXELS, FACE_SIZE } from '../src/data/dataset.js';
import { KAGGLE15, flipPermutation } from '../src/schema/index.js';

const engine = nativeEngine();

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A black face with one Gaussian dot (sigma 1.2 px) centred on (x, y). */
function dotImage(x: number, y: number): Uint8Array {
  const image = new Uint8Array(FACE_PIXELS);
  for (let py = 0; py < FACE_SIZE; py++) {
    for (let px = 0; px < FACE_SIZE; px++) {
      image[py * FACE_SIZE + px] = Math.round(250 * Math.exp(-((px - x) ** 2 + (py - y) ** 2) / (2 * 1.2 ** 2)));
    }
  }
  return image;
}

function centroid(image: Float32Array): [number, number] {
  let sum = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < image.length; i++) {
    sum += image[i];
    sx += image[i] * (i % FACE_SIZE);
    sy += image[i] * Math.floor(i / FACE_SIZE);
  }
  return [sx / sum, sy / sum];
}

test('a dot drawn on a face lands where its augmented keypoint says (rotation, scale, shift, flip)', () => {
  const random = lcg(42);
  const count = 60;
  const images = new Uint8Array(count * FACE_PIXELS);
  // Two points that a flip swaps; only point 0 is labelled (point 1 missing).
  const keypoints = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const x = 30 + random() * 36;
    const y = 30 + random() * 36;
    images.set(dotImage(x, y), i * FACE_PIXELS);
    keypoints.set([x, y, Number.NaN, Number.NaN], i * 4);
  }
  const options: NativeAugmentOptions = { flip: true, flipPermutation: [1, 0], rotation: 30, scale: 0.2, shift: 8 };
  const out = engine.augmentFaces(images, keypoints, count, 2, FACE_SIZE, options, 7);

  let flipped = 0;
  let largestMove = 0;
  for (let i = 0; i < count; i++) {
    const [x0, y0, x1, y1] = out.keypoints.subarray(i * 4, i * 4 + 4);
    // After a flip the labelled dot is the other side's point: it moved to index 1.
    const isFlipped = Number.isNaN(x0);
    if (isFlipped) flipped++;
    const [kx, ky] = isFlipped ? [x1, y1] : [x0, y0];
    assert.ok(Number.isFinite(kx) && Number.isFinite(ky), `face ${i}: exactly one point stays labelled`);
    assert.ok(isFlipped ? Number.isNaN(y0) : Number.isNaN(x1) && Number.isNaN(y1), `face ${i}: the missing point stays missing`);
    const [cx, cy] = centroid(out.images.subarray(i * FACE_PIXELS, (i + 1) * FACE_PIXELS));
    const error = Math.hypot(cx - kx, cy - ky);
    assert.ok(error < 0.3, `face ${i}: dot at (${cx.toFixed(2)}, ${cy.toFixed(2)}), keypoint at (${kx.toFixed(2)}, ${ky.toFixed(2)}): ${error.toFixed(3)} px apart`);
    largestMove = Math.max(largestMove, Math.hypot(kx - keypoints[i * 4], ky - keypoints[i * 4 + 1]));
  }
  assert.ok(flipped > 15 && flipped < 45, `about half the faces flip, got ${flipped}/${count}`);
  assert.ok(largestMove > 5, 'the augmentation moves points');
});

test('a flip alone mirrors pixels about x = 47.5 and swaps left/right keypoints by the schema', () => {
  const random = lcg(3);
  const image = Uint8Array.from({ length: FACE_PIXELS }, () => Math.floor(random() * 256));
  const keypoints = Float32Array.from({ length: 30 }, () => random() * 95);
  const perm = flipPermutation(KAGGLE15);
  // Seed search: the first seed whose single draw is a flip (the draw is a coin toss).
  let out = engine.augmentFaces(image, keypoints, 1, 15, FACE_SIZE, { flip: true, flipPermutation: perm }, 0);
  const nose = KAGGLE15.points.indexOf('nose_tip');
  for (let seed = 1; out.keypoints[2 * nose] === keypoints[2 * nose]; seed++) out = engine.augmentFaces(image, keypoints, 1, 15, FACE_SIZE, { flip: true, flipPermutation: perm }, seed);
  for (let y = 0; y < FACE_SIZE; y++) {
    for (let x = 0; x < FACE_SIZE; x++) assert.equal(out.images[y * FACE_SIZE + x], Math.fround(image[y * FACE_SIZE + 95 - x] / 255));
  }
  const left = KAGGLE15.points.indexOf('left_eye_center');
  const right = KAGGLE15.points.indexOf('right_eye_center');
  assert.ok(Math.abs(out.keypoints[2 * left] - (95 - keypoints[2 * right])) < 1e-4);
  assert.ok(Math.abs(out.keypoints[2 * left + 1] - keypoints[2 * right + 1]) < 1e-4);
  assert.ok(Math.abs(out.keypoints[2 * nose] - (95 - keypoints[2 * nose])) < 1e-4);
});

test('without augmentation faces pass through as pixels / 255; brightness and contrast leave keypoints alone', () => {
  const random = lcg(9);
  const count = 4;
  const images = Uint8Array.from({ length: count * FACE_PIXELS }, () => Math.floor(random() * 256));
  const keypoints = Float32Array.from({ length: count * 30 }, () => random() * 95);
  const plain = engine.augmentFaces(images, keypoints, count, 15, FACE_SIZE, {}, 1);
  assert.deepEqual(plain.images, Float32Array.from(images, (v) => v / 255));
  assert.deepEqual(plain.keypoints, keypoints);

  const photometric = engine.augmentFaces(images, keypoints, count, 15, FACE_SIZE, { brightness: 0.3, contrast: 0.5 }, 1);
  assert.deepEqual(photometric.keypoints, keypoints);
  assert.notDeepEqual(photometric.images, plain.images);
  assert.ok(photometric.images.every((v) => v >= 0 && v <= 1));
});

test('augmentation options are checked', () => {
  const images = new Uint8Array(FACE_PIXELS);
  assert.throws(() => engine.augmentFaces(images, new Float32Array(30), 1, 15, FACE_SIZE, { flip: true, flipPermutation: [1, 0] }, 1), /flip permutation with one entry per keypoint/);
});
