/**
 * Fit an image into the detector's square input without distorting it: scale its longer side
 * to the input side, centre it, pad the rest with black. Resizing is sharp's (libvips); the
 * float tensor is written into a buffer the caller keeps, so nothing per pixel is allocated.
 */
import sharp from 'sharp';
import type { RawImage } from '../../data/image.js';

/** Where the image landed in the square input: input pixel u ↔ image position (u − padX) · scaleX. */
export interface LetterboxTransform {
  /** Image pixels per input pixel, per axis (sizes are rounded, so the two differ slightly). */
  readonly scaleX: number;
  readonly scaleY: number;
  /** Left and top padding in input pixels. */
  readonly padX: number;
  readonly padY: number;
}

/** Input pixel value for an 8-bit channel value: BlazeFace wants [−1, 1]. */
export function normaliseChannel(value: number): number {
  return value / 127.5 - 1;
}

/** An input position (continuous, input pixel i covers [i, i + 1]) → image coordinates (pixel centres at integers). */
export function inputToImage(t: LetterboxTransform, u: number, v: number): { x: number; y: number } {
  return { x: (u - t.padX) * t.scaleX - 0.5, y: (v - t.padY) * t.scaleY - 0.5 };
}

/**
 * Letterbox `image` into `tensor` (NHWC, size x size x 3, floats in [−1, 1]); grey images are
 * repeated over the three channels.
 */
export async function letterbox(image: RawImage, size: number, tensor: Float32Array): Promise<LetterboxTransform> {
  if (tensor.length !== size * size * 3) throw new RangeError(`letterbox: tensor holds ${tensor.length} floats, a ${size}x${size}x3 input needs ${size * size * 3}`);
  const { width, height, channels } = image;
  if (!(width > 0 && height > 0) || image.data.length < width * height * channels) {
    throw new RangeError(`letterbox: ${image.data.length} bytes for a ${width}x${height}x${channels} image`);
  }
  const fit = size / Math.max(width, height);
  const innerW = Math.max(1, Math.min(size, Math.round(width * fit)));
  const innerH = Math.max(1, Math.min(size, Math.round(height * fit)));
  const padX = Math.floor((size - innerW) / 2);
  const padY = Math.floor((size - innerH) / 2);

  const { data, info } = await sharp(image.data, { raw: { width, height, channels } })
    .resize(innerW, innerH, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const c = info.channels;
  if (info.width !== innerW || info.height !== innerH || (c !== 1 && c !== 3)) {
    throw new Error(`letterbox: sharp gave ${info.width}x${info.height}x${c}, expected ${innerW}x${innerH}x${channels}`);
  }

  tensor.fill(normaliseChannel(0));
  for (let y = 0; y < innerH; y++) {
    let src = y * innerW * c;
    let dst = ((y + padY) * size + padX) * 3;
    for (let x = 0; x < innerW; x++, src += c, dst += 3) {
      const r = data[src];
      tensor[dst] = normaliseChannel(r);
      tensor[dst + 1] = normaliseChannel(c === 3 ? data[src + 1] : r);
      tensor[dst + 2] = normaliseChannel(c === 3 ? data[src + 2] : r);
    }
  }
  return { scaleX: width / innerW, scaleY: height / innerH, padX, padY };
}
