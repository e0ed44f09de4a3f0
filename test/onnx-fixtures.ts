import { validateModelSpec } from '../src/models/spec.js';
/** Shared by the ONNX and predict tests: faces to run, and randomly initialised engine models. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { cropFace, protocolFaceBox } from '../src/data/crop.js';
import { decodeGrey } from '../src/data/image.js';
import { parseYtf68Csv } from '../src/data/landmarks/ytf68.js';
import { findDataDir } from '../src/util/paths.js';
import { TorchModel } from '../src/models/torch-model.js';
import type { ModelMetadata } from '../src/models/file.js';
import type { ModelSpec } from '../src/models/spec.js';

export const KAGGLE_METADATA: ModelMetadata = { schema: 'kaggle15', pointCount: 15, normalization: 'unit-v1' };

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

export function randomFaces(count: number, seed = 1): Uint8Array {
  const random = lcg(seed);
  return Uint8Array.from({ length: count * FACE_PIXELS }, () => Math.floor(random() * 256));
}

const cropCache = new Map<number, Promise<Uint8Array>>();

/**
 * The first `count` labelled ytf68 training images as YTF-15 protocol crops (real faces), or
 * undefined when the shared data is absent.
 */
export function ytfFaces(count: number): Promise<Uint8Array> | undefined {
  const dir = findDataDir('ytf68');
  if (!dir) return undefined;
  let faces = cropCache.get(count);
  if (!faces) {
    faces = (async () => {
      const csv = join(dir, 'training_frames_keypoints.csv');
      const rows = parseYtf68Csv(await readFile(csv, 'utf8'), csv).slice(0, count);
      const out = new Uint8Array(rows.length * FACE_PIXELS);
      for (const [i, row] of rows.entries()) {
        const grey = await decodeGrey(join(dir, 'training', row.name));
        out.set(cropFace(grey, protocolFaceBox(row.points)), i * FACE_PIXELS);
      }
      return out;
    })();
    cropCache.set(count, faces);
  }
  return faces;
}

/** Real faces when the shared data is there, else random pixels; says which. */
export async function testFaces(count: number): Promise<{ faces: Uint8Array; real: boolean }> {
  const real = ytfFaces(count);
  return real ? { faces: await real, real: true } : { faces: randomFaces(count), real: false };
}

/**
 * A freshly initialised engine model whose batch-norm parameters and running statistics are
 * random too (fresh ones are 1 and 0, which would hide a mix-up of the four).
 */
export function randomTorchModel(spec: ModelSpec, seed = 1, metadata: ModelMetadata = KAGGLE_METADATA): TorchModel {
  const model = TorchModel.create(spec, metadata, { seed });
  const random = lcg(seed * 7919 + 1);
  const state = model.native.getState().map((tensor) => {
    const range = /\.running_var$/.test(tensor.name) ? [0.3, 2] : /\.running_mean$|\.bias$/.test(tensor.name) ? [-0.3, 0.3] : /\.weight$/.test(tensor.name) ? [0.5, 1.5] : undefined;
    const isNorm = /batchnorm\./.test(tensor.name);
    if (!isNorm || !range || tensor.dtype !== 'float32') return tensor;
    const values = Float32Array.from({ length: tensor.data.byteLength / 4 }, () => range[0] + random() * (range[1] - range[0]));
    return { ...tensor, data: new Uint8Array(values.buffer) };
  });
  model.native.setState(state);
  return model;
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Small and fast, but spatially asymmetric (so a mirrored face gives a different answer). */
export const SMALL_SPEC: ModelSpec = validateModelSpec({
  name: 'small',
  inputSize: 96,
  outputs: 30,
  layers: [
    { type: 'conv', filters: 8, kernel: 5, stride: 2, activation: 'relu' },
    { type: 'maxpool', size: 2 },
    { type: 'conv', filters: 16, kernel: 3, stride: 2, activation: 'relu' },
    { type: 'flatten' },
    { type: 'dense', units: 30 },
  ],
});
