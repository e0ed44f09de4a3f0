/**
 * The server's photo pipeline (src/inference/pipeline.ts) run in the browser: faces from
 * BlazeFace, each cropped by its protocol box from the luma image (the same crop code as the
 * server), all faces in one keypoint-model run, points mapped back to image pixels.
 */
import * as ort from 'onnxruntime-web';
import { cropFace, cropPointsToImage } from '../../src/data/crop.js';
import { flipPermutation, schemaByName } from '../../src/schema/index.js';
import type { KeypointsResponse, ModelDescription, ModelsResponse } from '../../src/serving/api-types.js';
import { BrowserFaceDetector } from './browser-detector.js';
import { framePixels, type Frame } from './frame.js';

/** onnxruntime-web's runtime comes from this server (never a CDN). */
ort.env.wasm.wasmPaths = '/ort/';
// One thread: threads need a cross-origin-isolated page, and one is enough for a 96x96 net.
ort.env.wasm.numThreads = 1;
// BlazeFace's converted graphs carry unused initialisers; onnxruntime warns about each one.
ort.env.logLevel = 'error';

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };

/** Same as keypoint-model.ts: the fkd ONNX graph's input and output. */
const INPUT_NAME = 'input';
const OUTPUT_NAME = 'keypoints';

export class BrowserPipeline {
  private readonly flip: number[] | undefined;

  private constructor(
    private readonly detector: BrowserFaceDetector,
    private readonly keypoints: ort.InferenceSession,
    private readonly model: ModelDescription & { inputSize: number; url: string },
  ) {
    this.flip = model.inference.flipTta ? flipPermutation(schemaByName(model.schema)) : undefined;
  }

  /** Why this model cannot run in the browser, or undefined when it can. */
  static unsupported(model: ModelDescription): string | undefined {
    if (model.url === undefined || model.inputSize === undefined) return 'the server does not offer its model for download';
    if (model.normalization !== 'unit-v1') return `the model's output normalisation "${model.normalization}" is unknown to this page`;
    return undefined;
  }

  static async load(models: ModelsResponse): Promise<BrowserPipeline> {
    const model = models.models[0];
    const reason = BrowserPipeline.unsupported(model);
    if (reason) throw new Error(reason);
    const [detector, keypoints] = await Promise.all([BrowserFaceDetector.load(models.detector, SESSION_OPTIONS), ort.InferenceSession.create(model.url!, SESSION_OPTIONS)]);
    return new BrowserPipeline(detector, keypoints, model as ModelDescription & { inputSize: number; url: string });
  }

  async run(frame: Frame): Promise<KeypointsResponse> {
    const started = performance.now();
    const rgba = framePixels(frame);
    const decoded = performance.now();
    const detected = (await this.detector.detect(frame)).filter((face) => face.score >= this.model.inference.minScore);
    const found = performance.now();
    const faces: KeypointsResponse['faces'] = [];
    if (detected.length > 0) {
      const grey = lumaOf(rgba, frame.width, frame.height);
      const size = this.model.inputSize;
      const boxes = detected.map((f) => f.protocolBox);
      const coords = await this.predict(boxes.map((box) => cropFace(grey, box, size)), size);
      const stride = this.model.points.length * 2;
      detected.forEach((face, i) => {
        const image = cropPointsToImage(boxes[i], coords.subarray(i * stride, (i + 1) * stride), size);
        faces.push({
          box: { ...face.box },
          score: face.score,
          cropBox: { ...boxes[i] },
          keypoints: this.model.points.map((name, p) => ({ name, x: image[2 * p], y: image[2 * p + 1] })),
        });
      });
    }
    const done = performance.now();
    return {
      model: { name: this.model.name, version: this.model.version, schema: this.model.schema },
      width: frame.width,
      height: frame.height,
      faces,
      timings: { decodeMs: decoded - started, detectMs: found - decoded, keypointsMs: done - found, totalMs: done - started, queueMs: 0, requestMs: done - started },
    };
  }

  /** keypoint-model.ts's predict: pixels / 255, optional mirrored copies, "unit-v1" outputs to crop pixels. */
  private async predict(crops: Uint8Array[], size: number): Promise<Float64Array> {
    const n = crops.length;
    const pixels = size * size;
    const images = this.flip ? 2 * n : n;
    const input = new Float32Array(images * pixels);
    crops.forEach((crop, f) => {
      for (let i = 0; i < pixels; i++) input[f * pixels + i] = crop[i] / 255;
      if (!this.flip) return;
      for (let row = 0; row < size; row++) {
        for (let col = 0; col < size; col++) input[(n + f) * pixels + row * size + col] = crop[row * size + size - 1 - col] / 255;
      }
    });
    const results = await this.keypoints.run({ [INPUT_NAME]: new ort.Tensor('float32', input, [images, 1, size, size]) });
    const output = results[OUTPUT_NAME].data as Float32Array;
    const points = this.model.points.length;
    const half = size / 2;
    const centre = (size - 1) / 2;
    const coords = new Float64Array(n * points * 2);
    for (let f = 0; f < n; f++) {
      for (let p = 0; p < points; p++) {
        const own = f * points * 2 + 2 * p;
        let x = output[own] * half + centre;
        let y = output[own + 1] * half + centre;
        if (this.flip) {
          const mirrored = (n + f) * points * 2 + 2 * this.flip[p];
          x = (x + 2 * centre - (output[mirrored] * half + centre)) / 2;
          y = (y + output[mirrored + 1] * half + centre) / 2;
        }
        coords[own] = x;
        coords[own + 1] = y;
      }
    }
    return coords;
  }
}

/** image.ts's toGrey: BT.601 luma of the 8-bit values, in floating point. */
function lumaOf(rgba: Uint8ClampedArray, width: number, height: number): { width: number; height: number; data: Float32Array } {
  const data = new Float32Array(width * height);
  for (let p = 0, q = 0; p < data.length; p++, q += 4) data[p] = 0.299 * rgba[q] + 0.587 * rgba[q + 1] + 0.114 * rgba[q + 2];
  return { width, height, data };
}
