/**
 * bench:infer's peer: face-api.js (@vladmandic/face-api, weights shipped in its package) on
 * TensorFlow.js's WebAssembly backend, loaded from node_modules only (no network): its default
 * detector (SSD MobileNet v1) and its 68-point landmark net, i.e. `detectAllFaces(img)
 * .withFaceLandmarks()`. Photos are decoded by the same code as ours (sharp, EXIF orientation
 * applied) and handed over as an int32 RGB tensor, as face-api's Node demos do.
 *
 * tfjs-backend-wasm runs single-threaded in Node: its multi-threaded build needs the browser's
 * cross-origin-isolated SharedArrayBuffer workers (WASM_HAS_MULTITHREAD_SUPPORT is false here).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeImage } from '../src/data/image.js';

const require = createRequire(import.meta.url);

/** The few tfjs and face-api calls used (their CommonJS builds are loaded untyped). */
interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  version_core: string;
  env(): { getBool(flag: string): boolean };
  tensor3d(values: Int32Array, shape: [number, number, number], dtype: 'int32'): unknown;
  dispose(tensor: unknown): void;
  memory(): { numTensors: number };
}
interface FaceApiResult {
  detection: { score: number; box: { x: number; y: number; width: number; height: number } };
  landmarks: { positions: { x: number; y: number }[] };
}
interface FaceApi {
  version: string;
  nets: Record<'ssdMobilenetv1' | 'faceLandmark68Net', { loadFromDisk(dir: string): Promise<void> }>;
  SsdMobilenetv1Options: new (options?: { minConfidence?: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): { withFaceLandmarks(): Promise<FaceApiResult[]> };
}

export interface FaceApiFace {
  score: number;
  /** 68 points x0, y0, … in image pixels (iBUG markup). */
  points: Float64Array;
}

export interface FaceApiPeer {
  readonly description: string;
  readonly backend: string;
  readonly threads: number;
  detect(bytes: Uint8Array): Promise<FaceApiFace[]>;
  /** Tensors tfjs holds (constant after warm-up unless the peer leaks). */
  tensors(): number;
}

/** face-api's own default SSD threshold; its Node demos use 0.1, which finds more of ytf68's tight frames (and more false faces). */
export const FACEAPI_DEFAULT_MIN_CONFIDENCE = 0.5;

export async function loadFaceApi(minConfidence = FACEAPI_DEFAULT_MIN_CONFIDENCE): Promise<FaceApiPeer> {
  const tf = require('@tensorflow/tfjs') as Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void };
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  // The .wasm binaries from the installed package, never a CDN.
  wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not initialise');
  await tf.ready();
  const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence });
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const threaded = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  return {
    description: `face-api ${faceapi.version} (SSD MobileNet v1 at minConfidence ${minConfidence} + 68-point landmarks) on tfjs ${tf.version_core} ${tf.getBackend()}${simd ? ' SIMD' : ''}${threaded ? ' threaded' : ', one thread'}`,
    backend: tf.getBackend(),
    threads: threaded ? 0 : 1,
    async detect(bytes: Uint8Array): Promise<FaceApiFace[]> {
      const image = await decodeImage(bytes, { applyExifOrientation: true });
      const rgb = new Int32Array(image.width * image.height * 3);
      const c = image.channels;
      for (let p = 0, q = 0; q < rgb.length; p += c, q += 3) {
        rgb[q] = image.data[p];
        rgb[q + 1] = image.data[p + (c === 3 ? 1 : 0)];
        rgb[q + 2] = image.data[p + (c === 3 ? 2 : 0)];
      }
      const tensor = tf.tensor3d(rgb, [image.height, image.width, 3], 'int32');
      try {
        const results = await faceapi.detectAllFaces(tensor, options).withFaceLandmarks();
        return results.map((r) => ({ score: r.detection.score, points: Float64Array.from(r.landmarks.positions.flatMap((p) => [p.x, p.y])) }));
      } finally {
        tf.dispose(tensor);
      }
    },
    tensors: () => tf.memory().numTensors,
  };
}
