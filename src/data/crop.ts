/**
 * The YTF-15 protocol's face box and 96x96 face crop (shared/data/README.md, "Face box").
 *
 * Coordinates are 0-based with pixel centres at integers: pixel i covers [i − 0.5, i + 0.5].
 * The face box is the square of side s centred on (cx, cy); it covers the continuous image
 * interval [cx − s/2, cx + s/2] (same for y), which maps onto the crop's [−0.5, size − 0.5]:
 *
 *   u = (x − (cx − s/2)) · size/s − 0.5          x = (u + 0.5) · s/size + cx − s/2
 *
 * so the box centre lands on (size − 1)/2 = 47.5 and a horizontal flip of the image (with the
 * box mirrored) is u → size − 1 − u.
 *
 * Resampling (cropFace) is PIL's antialiased BILINEAR, made exact here:
 *  - scale = s/size source pixels per output pixel; the kernel is the triangle (tent)
 *    t(d) = max(0, 1 − |d| / h) with half-width h = max(1, scale) source pixels, so it
 *    interpolates bilinearly when enlarging and averages over the footprint when shrinking;
 *  - output pixel i samples source centre c_i = cx − s/2 + (i + 0.5) · scale (x = cropToImage(i));
 *  - its taps are the integer source positions j with |j − c_i| < h, weight t(j − c_i);
 *    weights are normalised over all taps, including those outside the image, whose value
 *    counts as zero (zero padding: the crop darkens where the square leaves the image);
 *  - the 2D kernel is the product of the x and y kernels, applied separably (rows, then
 *    columns) in float64; the result is rounded to the nearest integer (halves up), 0–255.
 * Differences from PIL itself: PIL renormalises over in-image taps only (edge replication in
 * effect) and uses fixed-point weights; the protocol wants zero padding and exact weights.
 * Per-axis tap ranges and weights are computed once per crop, so the inner loops allocate nothing.
 */
import { FACE_SIZE } from './dataset.js';

/** A square face box: centre and side, in image pixels. */
export interface FaceBox {
  readonly cx: number;
  readonly cy: number;
  readonly s: number;
}

/** Grey pixels as integers or floats (e.g. GreyImage from image.ts), row-major. */
export interface GreyPixels {
  readonly width: number;
  readonly height: number;
  readonly data: ArrayLike<number>;
}

/** The protocol's margin: the square's side is this times the larger side of the points' bounding box. */
export const FACE_BOX_SCALE = 1.25;

/** The protocol's face box from 68 interleaved points (x0,y0,…,x67,y67). */
export function protocolFaceBox(points68: ArrayLike<number>): FaceBox {
  if (points68.length !== 136) throw new RangeError(`protocolFaceBox needs 68 points (136 numbers), got ${points68.length} numbers`);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < 136; i += 2) {
    const x = points68[i];
    const y = points68[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`protocolFaceBox: point ${i / 2} is not finite (${x}, ${y})`);
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const s = FACE_BOX_SCALE * Math.max(maxX - minX, maxY - minY);
  if (!(s > 0)) throw new RangeError('protocolFaceBox: all 68 points coincide, the box is empty');
  return { cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, s };
}

/** Image point → crop point. */
export function imageToCrop(box: FaceBox, x: number, y: number, size: number = FACE_SIZE): { u: number; v: number } {
  const k = size / box.s;
  return { u: (x - (box.cx - box.s / 2)) * k - 0.5, v: (y - (box.cy - box.s / 2)) * k - 0.5 };
}

/** Crop point → image point (inverse of imageToCrop). */
export function cropToImage(box: FaceBox, u: number, v: number, size: number = FACE_SIZE): { x: number; y: number } {
  const k = box.s / size;
  return { x: (u + 0.5) * k + box.cx - box.s / 2, y: (v + 0.5) * k + box.cy - box.s / 2 };
}

/** Interleaved image coordinates (x0,y0,…) → crop coordinates; NaN stays NaN. */
export function imagePointsToCrop(box: FaceBox, coords: ArrayLike<number>, size: number = FACE_SIZE): Float64Array {
  const out = new Float64Array(coords.length);
  const k = size / box.s;
  const x0 = box.cx - box.s / 2;
  const y0 = box.cy - box.s / 2;
  for (let i = 0; i + 1 < coords.length; i += 2) {
    out[i] = (coords[i] - x0) * k - 0.5;
    out[i + 1] = (coords[i + 1] - y0) * k - 0.5;
  }
  return out;
}

/** Interleaved crop coordinates (u0,v0,…) → image coordinates; NaN stays NaN. */
export function cropPointsToImage(box: FaceBox, coords: ArrayLike<number>, size: number = FACE_SIZE): Float64Array {
  const out = new Float64Array(coords.length);
  const k = box.s / size;
  const x0 = box.cx - box.s / 2;
  const y0 = box.cy - box.s / 2;
  for (let i = 0; i + 1 < coords.length; i += 2) {
    out[i] = (coords[i] + 0.5) * k + x0;
    out[i + 1] = (coords[i + 1] + 0.5) * k + y0;
  }
  return out;
}

/**
 * One axis's resampling taps, restricted to in-image source positions: output i reads
 * source positions first[i] … first[i] + count[i] − 1 with weights
 * weights[i * stride …], already normalised over all taps (in-image or not).
 */
interface AxisTaps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float64Array;
  readonly stride: number;
}

/** Taps for one axis: box start `origin` (cx − s/2), side s, `size` outputs, `length` source pixels. */
function axisTaps(origin: number, s: number, size: number, length: number): AxisTaps {
  const scale = s / size;
  const half = Math.max(1, scale);
  // j ranges over integers with |j − c| < half: at most ceil(2·half) of them.
  const stride = Math.ceil(2 * half) + 1;
  const first = new Int32Array(size);
  const count = new Int32Array(size);
  const weights = new Float64Array(size * stride);
  for (let i = 0; i < size; i++) {
    const centre = origin + (i + 0.5) * scale;
    const lo = Math.floor(centre - half) + 1;
    const hi = Math.ceil(centre + half) - 1;
    let total = 0;
    for (let j = lo; j <= hi; j++) total += Math.max(0, 1 - Math.abs(j - centre) / half);
    const inLo = Math.max(lo, 0);
    const inHi = Math.min(hi, length - 1);
    first[i] = inLo;
    count[i] = Math.max(0, inHi - inLo + 1);
    for (let j = inLo, k = i * stride; j <= inHi; j++, k++) {
      weights[k] = Math.max(0, 1 - Math.abs(j - centre) / half) / total;
    }
  }
  return { first, count, weights, stride };
}

/** The crop before rounding (float64, row-major size x size); what cropFace rounds. */
export function cropFaceFloat(grey: GreyPixels, box: FaceBox, size: number = FACE_SIZE): Float64Array {
  if (!(box.s > 0) || !Number.isFinite(box.s) || !Number.isFinite(box.cx) || !Number.isFinite(box.cy)) {
    throw new RangeError(`cropFace: bad face box (cx ${box.cx}, cy ${box.cy}, s ${box.s})`);
  }
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`cropFace: bad crop size ${size}`);
  const { width, height, data } = grey;
  if (data.length < width * height) throw new RangeError(`cropFace: ${data.length} values for a ${width}x${height} image`);
  const xt = axisTaps(box.cx - box.s / 2, box.s, size, width);
  const yt = axisTaps(box.cy - box.s / 2, box.s, size, height);
  const out = new Float64Array(size * size);

  // Source rows any output row reads; the horizontal pass runs on those only.
  let rowLo = height;
  let rowHi = -1;
  for (let v = 0; v < size; v++) {
    if (yt.count[v] === 0) continue;
    rowLo = Math.min(rowLo, yt.first[v]);
    rowHi = Math.max(rowHi, yt.first[v] + yt.count[v] - 1);
  }
  if (rowHi < rowLo) return out;

  const rows = new Float64Array((rowHi - rowLo + 1) * size);
  for (let r = rowLo; r <= rowHi; r++) {
    const src = r * width;
    const dst = (r - rowLo) * size;
    for (let u = 0; u < size; u++) {
      let acc = 0;
      const n = xt.count[u];
      const j0 = src + xt.first[u];
      const k0 = u * xt.stride;
      for (let t = 0; t < n; t++) acc += xt.weights[k0 + t] * data[j0 + t];
      rows[dst + u] = acc;
    }
  }
  for (let v = 0; v < size; v++) {
    const n = yt.count[v];
    const k0 = v * yt.stride;
    const dst = v * size;
    for (let t = 0; t < n; t++) {
      const w = yt.weights[k0 + t];
      const src = (yt.first[v] + t - rowLo) * size;
      for (let u = 0; u < size; u++) out[dst + u] += w * rows[src + u];
    }
  }
  return out;
}

/** The protocol's face crop: size x size grey bytes, row-major. */
export function cropFace(grey: GreyPixels, box: FaceBox, size: number = FACE_SIZE): Uint8Array {
  const float = cropFaceFloat(grey, box, size);
  const out = new Uint8Array(float.length);
  for (let i = 0; i < float.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(float[i])));
  return out;
}
