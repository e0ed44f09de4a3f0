import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../src/data/errors.js';
import { decodeGrey, decodeImage, readImageHeader, sniffImageFormat, toGrey } from '../src/data/image.js';
import { findDataDir } from '../src/util/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'fkd-image-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** 4x3 RGB pixels with distinct values. */
const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37 + 11) % 256);

async function rgbPng(): Promise<Buffer> {
  return sharp(rgb, { raw: { width: 4, height: 3, channels: 3 } }).png().toBuffer();
}

async function assertInputError(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
    assert.equal(err.location.file, file);
    assert.ok(err.message.includes(file), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

test('RGB PNG decodes to its exact pixels; grey is 601 luma in floating point', async () => {
  const image = await decodeImage(await rgbPng());
  assert.deepEqual([image.width, image.height, image.channels], [4, 3, 3]);
  assert.deepEqual(Array.from(image.data), Array.from(rgb));
  const grey = toGrey(image);
  for (let p = 0; p < 12; p++) {
    const want = 0.299 * rgb[3 * p] + 0.587 * rgb[3 * p + 1] + 0.114 * rgb[3 * p + 2];
    assert.ok(Math.abs(grey.data[p] - want) < 1e-4, `pixel ${p}: ${grey.data[p]} vs ${want}`);
  }
  assert.ok(grey.data.some((v) => !Number.isInteger(v)), 'luma is kept fractional');
});

test('alpha is dropped, colour kept', async () => {
  const rgba = Uint8Array.from({ length: 2 * 2 * 4 }, (_, i) => (i % 4 === 3 ? 17 * i : 9 * i));
  const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
  const image = await decodeImage(png);
  assert.equal(image.channels, 3);
  assert.deepEqual(Array.from(image.data), Array.from(rgba).filter((_, i) => i % 4 !== 3));
});

test('grey input stays one channel and its values are used as they are', async () => {
  const values = Uint8Array.from([0, 50, 100, 200, 255, 1]);
  const png = await sharp(values, { raw: { width: 3, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  const image = await decodeImage(png);
  assert.equal(image.channels, 1);
  assert.deepEqual(Array.from(image.data), Array.from(values));
  assert.deepEqual(Array.from((await decodeGrey(png)).data), Array.from(values));
  // Grey with alpha: alpha dropped, still one channel.
  const ga = await sharp(Uint8Array.from([10, 255, 20, 0]), { raw: { width: 2, height: 1, channels: 2 } }).toColourspace('b-w').png().toBuffer();
  const gaImage = await decodeImage(ga);
  assert.deepEqual([gaImage.channels, ...gaImage.data], [1, 10, 20]);
});

test('the format comes from the bytes, not the extension', async () => {
  const pngNamedJpg = join(dir, 'really-a-png.jpg');
  writeFileSync(pngNamedJpg, await rgbPng());
  assert.equal((await readImageHeader(pngNamedJpg)).format, 'png');
  assert.deepEqual(Array.from((await decodeImage(pngNamedJpg)).data), Array.from(rgb));
  const jpegNamedPng = join(dir, 'really-a-jpeg.png');
  writeFileSync(jpegNamedPng, await sharp(rgb, { raw: { width: 4, height: 3, channels: 3 } }).jpeg().toBuffer());
  assert.equal(await sniffImageFormat(jpegNamedPng), 'jpeg');
  assert.equal((await decodeImage(jpegNamedPng)).width, 4);
});

test('random bytes are an InputError naming the file', async () => {
  const file = join(dir, 'noise.jpg');
  const bytes = new Uint8Array(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 251;
  writeFileSync(file, bytes);
  await assertInputError(decodeImage(file), file, /not a readable image/);
  assert.equal(await sniffImageFormat(file), undefined);
  await assertInputError(decodeImage(bytes, { name: 'upload #3' }), 'upload #3', /not a readable image/);
});

test('a truncated JPEG is an InputError, not silently padded pixels', async () => {
  const pixels = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 31) % 256);
  const jpeg = await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const file = join(dir, 'truncated.jpg');
  writeFileSync(file, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  assert.equal((await readImageHeader(file)).width, 64, 'the header alone still reads');
  await assertInputError(decodeImage(file), file, /could not decode/);
});

test('the pixel limit refuses large images from the header', async () => {
  const png = await sharp({ create: { width: 100, height: 60, channels: 3, background: '#808080' } }).png().toBuffer();
  await assertInputError(decodeImage(png, { name: 'big.png', maxPixels: 5999 }), 'big.png', /6000 pixels, above the limit of 5999/);
  assert.equal((await decodeImage(png, { maxPixels: 6000 })).height, 60);
});

test('EXIF orientation is ignored by default and applied on request', async () => {
  // 16x8 stored: left half black, right half white; orientation 6 = display rotated 90° clockwise.
  const stored = Uint8Array.from({ length: 16 * 8 }, (_, i) => (i % 16 < 8 ? 0 : 255));
  const jpeg = await sharp(stored, { raw: { width: 16, height: 8, channels: 1 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await readImageHeader(jpeg)).orientation, 6);
  const plain = await decodeGrey(jpeg);
  assert.deepEqual([plain.width, plain.height], [16, 8]);
  assert.ok(plain.data[0] < 30 && plain.data[15] > 225);
  const oriented = await decodeGrey(jpeg, { applyExifOrientation: true });
  assert.deepEqual([oriented.width, oriented.height], [8, 16]);
  // The stored left column becomes the top row.
  assert.ok(oriented.data[0] < 30 && oriented.data[7] < 30, 'top row dark');
  assert.ok(oriented.data[15 * 8] > 225, 'bottom row light');
});

test('a real ytf68 frame decodes to colour at its header size', async (t) => {
  const ytf = findDataDir('ytf68');
  if (!ytf) return t.skip('shared data not found (set FKD_DATA or provide ../shared/data); ytf68 decode not checked');
  const name = readdirSync(join(ytf, 'training')).find((f) => f.endsWith('.jpg'));
  assert.ok(name, 'ytf68/training holds images');
  const file = join(ytf, 'training', name);
  const header = await readImageHeader(file);
  const image = await decodeImage(file);
  assert.equal(header.format, 'jpeg');
  assert.deepEqual([image.width, image.height, image.channels], [header.width, header.height, 3]);
  const grey = toGrey(image);
  assert.ok(grey.data.every((v) => v >= 0 && v <= 255));
});
