import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cropFace,
  cropFaceFloat,
  cropPointsToImage,
  cropToImage,
  imagePointsToCrop,
  imageToCrop,
  protocolFaceBox,
  type FaceBox,
} from '../src/data/crop.js';

/** Small seeded generator, so failures reproduce. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomImage(width: number, height: number, seed: number): { width: number; height: number; data: Float32Array } {
  const next = random(seed);
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = next() * 255;
  return { width, height, data };
}

/**
 * Reference crop written straight from the protocol text: for each output pixel, sum over the
 * 2D neighbourhood with weight tent(dx)·tent(dy), out-of-image pixels counting as zero but
 * their weight still in the normaliser. No separability, no precomputation.
 */
function referenceCrop(img: { width: number; height: number; data: ArrayLike<number> }, box: FaceBox, size: number): Float64Array {
  const out = new Float64Array(size * size);
  const scale = box.s / size;
  const half = Math.max(1, scale);
  const tent = (d: number) => Math.max(0, 1 - Math.abs(d) / half);
  for (let v = 0; v < size; v++) {
    const yc = box.cy - box.s / 2 + (v + 0.5) * scale;
    for (let u = 0; u < size; u++) {
      const xc = box.cx - box.s / 2 + (u + 0.5) * scale;
      let sum = 0;
      let norm = 0;
      for (let y = Math.floor(yc - half) - 1; y <= Math.ceil(yc + half) + 1; y++) {
        for (let x = Math.floor(xc - half) - 1; x <= Math.ceil(xc + half) + 1; x++) {
          const w = tent(x - xc) * tent(y - yc);
          norm += w;
          if (x >= 0 && x < img.width && y >= 0 && y < img.height) sum += w * img.data[y * img.width + x];
        }
      }
      out[v * size + u] = sum / norm;
    }
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      assert.fail(`${what}: index ${i} is ${actual[i]}, expected ${expected[i]} (±${tolerance})`);
    }
  }
}

/** The rounded crop may differ from the rounded reference only where the float sits on a .5 tie. */
function assertRoundedMatches(crop: Uint8Array, reference: Float64Array, what: string): void {
  for (let i = 0; i < crop.length; i++) {
    const want = Math.round(reference[i]);
    if (crop[i] !== want && Math.abs((reference[i] % 1) - 0.5) > 1e-6) {
      assert.fail(`${what}: byte ${i} is ${crop[i]}, reference ${reference[i]}`);
    }
  }
}

const cases: { name: string; width: number; height: number; box: FaceBox }[] = [
  { name: 'shrinking (s = 3.3 x 96), inside', width: 400, height: 380, box: { cx: 201.3, cy: 188.7, s: 316.8 } },
  { name: 'shrinking, box partly outside left and bottom', width: 220, height: 160, box: { cx: 30.2, cy: 140.9, s: 180.4 } },
  { name: 'enlarging (s < 96), partly outside top and right', width: 70, height: 60, box: { cx: 62.4, cy: 5.1, s: 41.25 } },
  { name: 'enlarging, inside', width: 120, height: 90, box: { cx: 55.55, cy: 44.2, s: 61.7 } },
  { name: 'box larger than the image on every side', width: 50, height: 40, box: { cx: 24.1, cy: 19.9, s: 150 } },
  { name: 'box wholly outside', width: 50, height: 40, box: { cx: -200, cy: 10, s: 100 } },
];

for (const c of cases) {
  test(`crop matches the direct 2D summation: ${c.name}`, () => {
    const img = randomImage(c.width, c.height, c.width * 7919 + c.height);
    const reference = referenceCrop(img, c.box, 96);
    assertClose(cropFaceFloat(img, c.box), reference, 1e-9, c.name);
    assertRoundedMatches(cropFace(img, c.box), reference, c.name);
  });
}

test('crop of a box wholly outside the image is all zero', () => {
  const crop = cropFace(randomImage(50, 40, 1), { cx: -200, cy: 10, s: 100 });
  assert.ok(crop.every((p) => p === 0));
});

test('s = 96 with the box on pixel edges copies pixels exactly', () => {
  const img = randomImage(130, 110, 5);
  // Box origin (cx − s/2, cy − s/2) = (9.5, 3.5) → crop pixel (u, v) is image pixel (10 + u, 4 + v).
  const crop = cropFaceFloat(img, { cx: 57.5, cy: 51.5, s: 96 });
  for (let v = 0; v < 96; v++) {
    for (let u = 0; u < 96; u++) {
      assert.equal(crop[v * 96 + u], img.data[(v + 4) * 130 + (u + 10)], `(${u}, ${v})`);
    }
  }
});

test('2x shrink on pixel edges uses the [1, 3, 3, 1]/8 kernel per axis', () => {
  // One bright pixel at (20, 30); s = 192, box origin −0.5 → output i centred at 2i + 0.5.
  const img = { width: 192, height: 192, data: new Float64Array(192 * 192) };
  img.data[30 * 192 + 20] = 64;
  const crop = cropFaceFloat(img, { cx: 95.5, cy: 95.5, s: 192 });
  // x = 20 sits 0.5 from output 10's centre 20.5 (weight 3/8) and 1.5 from output 9's centre
  // 18.5 (weight 1/8); along y, 30 gives v = 15 (3/8) and v = 14 (1/8).
  const wx = new Map([[9, 1 / 8], [10, 3 / 8]]);
  const wy = new Map([[14, 1 / 8], [15, 3 / 8]]);
  for (let v = 0; v < 96; v++) {
    for (let u = 0; u < 96; u++) {
      const want = 64 * (wx.get(u) ?? 0) * (wy.get(v) ?? 0);
      assert.ok(Math.abs(crop[v * 96 + u] - want) < 1e-12, `(${u}, ${v}): ${crop[v * 96 + u]} vs ${want}`);
    }
  }
});

test('2x enlargement is plain linear interpolation between neighbours', () => {
  const img = randomImage(60, 60, 9);
  // s = 48 from origin 9.5: output i centre at 9.5 + (i + 0.5)/2 = 9.75 + i/2.
  const crop = cropFaceFloat(img, { cx: 33.5, cy: 33.5, s: 48 });
  const at = (x: number, y: number) => img.data[y * 60 + x];
  for (const [u, v] of [[0, 0], [1, 0], [5, 17], [95, 95], [40, 3]]) {
    const x = 9.75 + u / 2;
    const y = 9.75 + v / 2;
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const fx = x - x0;
    const fy = y - y0;
    const want =
      (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
    assert.ok(Math.abs(crop[v * 96 + u] - want) < 1e-9, `(${u}, ${v})`);
  }
});

test('a constant image crops to the same constant where the box is inside, darker at a left edge outside', () => {
  const img = { width: 300, height: 300, data: new Uint8Array(300 * 300).fill(200) };
  assert.ok(cropFace(img, { cx: 150, cy: 150, s: 250 }).every((p) => p === 200));
  // Box starting 10.25 px left of the image: columns fully outside are 0, the boundary column partial.
  const crop = cropFaceFloat(img, { cx: -10.25 + 50, cy: 150, s: 100 });
  const row = crop.subarray(50 * 96, 51 * 96);
  assert.equal(row[0], 0);
  assert.ok(Math.abs(row[95] - 200) < 1e-9, `inside: ${row[95]}`);
  // Output u centres at −10.25 + (u + 0.5)·100/96: u = 9 is the first whose taps reach column 0.
  const firstLit = row.findIndex((p) => p > 0);
  assert.equal(firstLit, 9);
  assert.ok(row[firstLit] < 199, `boundary: ${row[firstLit]}`);
});

test('protocolFaceBox: bounding-box centre and 1.25 times the larger side', () => {
  const points = new Float64Array(136);
  for (let i = 0; i < 68; i++) {
    points[2 * i] = 10 + (i % 5) * 10; // x in 10..50 → width 40
    points[2 * i + 1] = 100 + (i % 7) * 5; // y in 100..130 → height 30
  }
  assert.deepEqual(protocolFaceBox(points), { cx: 30, cy: 115, s: 50 });
  assert.throws(() => protocolFaceBox(points.subarray(0, 134)), RangeError);
  points[7] = NaN;
  assert.throws(() => protocolFaceBox(points), /not finite/);
});

test('box centre maps to 47.5 and the box corners to −0.5 and 95.5', () => {
  const box = { cx: 123.4, cy: 56.7, s: 88.8 };
  const centre = imageToCrop(box, box.cx, box.cy);
  assert.ok(Math.abs(centre.u - 47.5) < 1e-12 && Math.abs(centre.v - 47.5) < 1e-12, JSON.stringify(centre));
  const corner = imageToCrop(box, box.cx - box.s / 2, box.cy + box.s / 2);
  assert.ok(Math.abs(corner.u + 0.5) < 1e-12 && Math.abs(corner.v - 95.5) < 1e-12);
});

const boxArb = fc.record({
  cx: fc.double({ min: -50, max: 300, noNaN: true }),
  cy: fc.double({ min: -50, max: 300, noNaN: true }),
  s: fc.double({ min: 5, max: 400, noNaN: true }),
});

test('imageToCrop and cropToImage are inverse (single points and arrays)', () => {
  fc.assert(
    fc.property(boxArb, fc.double({ min: -500, max: 500, noNaN: true }), fc.double({ min: -500, max: 500, noNaN: true }), (box, x, y) => {
      const { u, v } = imageToCrop(box, x, y);
      const back = cropToImage(box, u, v);
      const tol = 1e-9 * (1 + Math.abs(x) + Math.abs(y) + box.s);
      assert.ok(Math.abs(back.x - x) < tol && Math.abs(back.y - y) < tol);
      const arr = imagePointsToCrop(box, [x, y, NaN, y]);
      assert.deepEqual([arr[0], arr[1]], [u, v]);
      assert.ok(Number.isNaN(arr[2]));
      const arrBack = cropPointsToImage(box, arr);
      assert.ok(Math.abs(arrBack[0] - x) < tol && Math.abs(arrBack[1] - y) < tol);
    }),
  );
});

test('horizontal flip: mirrored image and box give the mirrored crop, and u → 95 − u', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 80 }),
      fc.integer({ min: 3, max: 80 }),
      fc.integer(),
      fc.double({ min: -0.5, max: 1.5, noNaN: true }),
      fc.double({ min: -0.5, max: 1.5, noNaN: true }),
      fc.double({ min: 4, max: 300, noNaN: true }),
      fc.double({ min: -100, max: 100, noNaN: true }),
      (width, height, seed, fx, fy, s, x) => {
        const img = randomImage(width, height, seed);
        const mirrored = new Float32Array(img.data.length);
        for (let y = 0; y < height; y++) {
          for (let col = 0; col < width; col++) mirrored[y * width + col] = img.data[y * width + (width - 1 - col)];
        }
        const box = { cx: fx * width, cy: fy * height, s };
        const mirroredBox = { cx: width - 1 - box.cx, cy: box.cy, s };
        const crop = cropFaceFloat(img, box);
        const mirroredCrop = cropFaceFloat({ width, height, data: mirrored }, mirroredBox);
        for (let v = 0; v < 96; v++) {
          for (let u = 0; u < 96; u++) {
            assert.ok(Math.abs(mirroredCrop[v * 96 + u] - crop[v * 96 + 95 - u]) < 1e-6, `(${u}, ${v})`);
          }
        }
        const a = imageToCrop(box, x, 0).u;
        const b = imageToCrop(mirroredBox, width - 1 - x, 0).u;
        assert.ok(Math.abs(a - (95 - b)) < 1e-9);
      },
    ),
    { numRuns: 40 },
  );
});

test('random boxes and sizes agree with the direct summation (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer(),
      fc.double({ min: -20, max: 60, noNaN: true }),
      fc.double({ min: -20, max: 60, noNaN: true }),
      fc.double({ min: 1, max: 120, noNaN: true }),
      fc.integer({ min: 1, max: 24 }),
      (width, height, seed, cx, cy, s, size) => {
        const img = randomImage(width, height, seed);
        const box = { cx, cy, s };
        assertClose(cropFaceFloat(img, box, size), referenceCrop(img, box, size), 1e-9, JSON.stringify({ width, height, box, size }));
      },
    ),
    { numRuns: 200 },
  );
});

test('bad boxes and sizes are refused', () => {
  const img = randomImage(10, 10, 1);
  assert.throws(() => cropFace(img, { cx: 5, cy: 5, s: 0 }), RangeError);
  assert.throws(() => cropFace(img, { cx: NaN, cy: 5, s: 3 }), RangeError);
  assert.throws(() => cropFace(img, { cx: 5, cy: 5, s: 3 }, 0), RangeError);
  assert.throws(() => cropFace({ width: 10, height: 10, data: new Uint8Array(50) }, { cx: 5, cy: 5, s: 3 }), RangeError);
});
