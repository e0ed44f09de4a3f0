import sharp, { type Metadata } from 'sharp';
import { InputError } from './errors.js';

/** Decoded pixels, row-major, channels interleaved; 1 (grey) or 3 (sRGB) channels, alpha dropped. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

/** Grey values (0–255, fractional) as floats, so that resampling rounds only once, at the end. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** An image file's header facts, read without decoding the pixels. */
export interface ImageHeader {
  /** Format libvips sniffed from the bytes (jpeg, png, webp, …), never from the file name. */
  readonly format: string;
  /** Stored size, before any EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation tag (1–8) when present. */
  readonly orientation?: number;
  /** True for single-channel (grey, optionally with alpha) images. */
  readonly grey: boolean;
}

/** Refuse images above this many pixels unless told otherwise (a 50-megapixel photo is ~150 MB decoded). */
export const DEFAULT_MAX_PIXELS = 50_000_000;

export interface DecodeOptions {
  /** Name for messages when the input is a buffer (a path names itself). */
  readonly name?: string;
  /** Refuse images with more pixels than this, judged from the header before decoding. */
  readonly maxPixels?: number;
  /**
   * Rotate/flip by the EXIF orientation tag. Off by default: landmark labels refer to the
   * stored pixels; photos from cameras and phones want it on.
   */
  readonly applyExifOrientation?: boolean;
}

export type ImageInput = string | Uint8Array;

function inputName(input: ImageInput, options: DecodeOptions): string {
  return typeof input === 'string' ? input : (options.name ?? '<image buffer>');
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Header facts (format, stored size); InputError when the bytes are not an image libvips knows. */
export async function readImageHeader(input: ImageInput, options: Pick<DecodeOptions, 'name'> = {}): Promise<ImageHeader> {
  const name = inputName(input, options);
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new InputError({ file: name }, `not a readable image (${describe(err)})`);
  }
  if (!meta.format || !meta.width || !meta.height) {
    throw new InputError({ file: name }, 'not a readable image (no format or size in its header)');
  }
  const grey = meta.space === 'b-w' || meta.space === 'grey16';
  return { format: meta.format, width: meta.width, height: meta.height, orientation: meta.orientation, grey };
}

/** The sniffed format, or undefined when the bytes are not an image (for choosing among files). */
export async function sniffImageFormat(input: ImageInput): Promise<string | undefined> {
  try {
    return (await readImageHeader(input)).format;
  } catch (err) {
    if (err instanceof InputError) return undefined;
    throw err;
  }
}

/**
 * Decode an image to 8-bit sRGB or grey pixels, alpha dropped. The format is sniffed from the
 * bytes. Colour-managed inputs (ICC, CMYK, 16-bit) are converted to 8-bit sRGB by libvips.
 * Any decoding problem, truncation included, is an InputError naming the file.
 */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<RawImage> {
  const name = inputName(input, options);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = await readImageHeader(input, { name });
  if (header.width * header.height > maxPixels) {
    throw new InputError(
      { file: name },
      `image is ${header.width}x${header.height} = ${header.width * header.height} pixels, above the limit of ${maxPixels}`,
    );
  }
  try {
    // failOn 'warning' makes libjpeg's "premature end of data" an error instead of grey padding.
    let pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'warning' });
    if (options.applyExifOrientation) pipeline = pipeline.rotate();
    // Without this libvips would expand grey to three equal sRGB channels.
    if (header.grey) pipeline = pipeline.toColourspace('b-w');
    const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) {
      throw new Error(`unexpected ${info.channels} channels after removing alpha`);
    }
    return {
      width: info.width,
      height: info.height,
      channels: info.channels,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    throw new InputError({ file: name }, `could not decode image (${describe(err)})`);
  }
}

/** ITU-R BT.601 luma weights, applied to the 8-bit sRGB values as they are (no linearisation). */
export const LUMA_601 = { r: 0.299, g: 0.587, b: 0.114 } as const;

/** Grey version: 1-channel input as it is, 3-channel input as 601 luma in floating point. */
export function toGrey(image: RawImage): GreyImage {
  const pixels = image.width * image.height;
  const grey = new Float32Array(pixels);
  if (image.channels === 1) {
    grey.set(image.data.subarray(0, pixels));
  } else {
    const src = image.data;
    for (let p = 0, q = 0; p < pixels; p++, q += 3) {
      grey[p] = LUMA_601.r * src[q] + LUMA_601.g * src[q + 1] + LUMA_601.b * src[q + 2];
    }
  }
  return { width: image.width, height: image.height, data: grey };
}

/** Decode straight to grey. */
export async function decodeGrey(input: ImageInput, options: DecodeOptions = {}): Promise<GreyImage> {
  return toGrey(await decodeImage(input, options));
}
