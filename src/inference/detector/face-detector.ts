/**
 * Face detection in photos: BlazeFace (ONNX, CPU, one session per detector) over a letterboxed
 * copy of the image, anchors decoded, weighted NMS, results in image pixels, and each face's
 * protocol box (the YTF-15 crop square) predicted by the fitted box mapping.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { RawImage } from '../../data/image.js';
import type { FaceBox } from '../../data/crop.js';
import { anchorCount, BLAZEFACE_MODELS, type BlazeFaceModel, type BlazeFaceVariant } from './blazeface-model.js';
import { decodeAnchors, weightedNms, type GridOutput, type RawDetection } from './decode.js';
import { inputToImage, letterbox, type LetterboxTransform } from './letterbox.js';
import { FITTED_BOX_MAPPINGS, mapToProtocolBox, type BoxMapping } from './box-mapping.js';

/** A point in image pixels (0-based, pixel centres at integers). */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/** BlazeFace's six keypoints; left and right are the subject's (the subject's right eye is on the image's left). */
export interface FaceLandmarks {
  readonly rightEye: Point;
  readonly leftEye: Point;
  readonly noseTip: Point;
  readonly mouthCentre: Point;
  readonly rightEarTragion: Point;
  readonly leftEarTragion: Point;
}

/** The order of BlazeFace's keypoints in its output. */
export const LANDMARK_ORDER = ['rightEye', 'leftEye', 'noseTip', 'mouthCentre', 'rightEarTragion', 'leftEarTragion'] as const satisfies readonly (keyof FaceLandmarks)[];

export interface DetectedFace {
  /** The detector's own box: top-left corner and size, in image pixels (pixel centres at integers). */
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** Confidence in [0, 1]. */
  readonly score: number;
  readonly landmarks: FaceLandmarks;
  /** The YTF-15 protocol's face square predicted from box and landmarks (what the keypoint models crop). */
  readonly protocolBox: FaceBox;
}

export interface FaceDetectorOptions {
  /** Which BlazeFace network (default `back`, the 256x256 one: finds smaller faces). */
  readonly variant?: BlazeFaceVariant;
  /** Another ONNX file with the same inputs and outputs as the variant's (for tests and experiments). */
  readonly modelFile?: string;
  /** Minimum score after the sigmoid (default 0.5, MediaPipe's). */
  readonly scoreThreshold?: number;
  /** Overlap above which detections are merged (default 0.3, MediaPipe's). */
  readonly iouThreshold?: number;
  /** onnxruntime intra-op threads (default 2: the project's machines have two cores). */
  readonly threads?: number;
  /** Detector output → protocol box (default: the variant's mapping in box-mapping.json). */
  readonly boxMapping?: BoxMapping;
}

/** The model file could not be read or is not a BlazeFace network. */
export class ModelLoadError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`cannot load face detector model ${file}: ${reason}`);
    this.name = 'ModelLoadError';
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

export class FaceDetector {
  private readonly tensorData: Float32Array;
  private readonly inputTensor: ort.Tensor;
  /** Serialises detect() calls: they share the input buffer. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly model: BlazeFaceModel,
    readonly scoreThreshold: number,
    readonly iouThreshold: number,
    readonly boxMapping: BoxMapping,
  ) {
    const n = model.inputSize;
    this.tensorData = new Float32Array(n * n * 3);
    this.inputTensor = new ort.Tensor('float32', this.tensorData, [1, n, n, 3]);
  }

  static async load(options: FaceDetectorOptions = {}): Promise<FaceDetector> {
    const model = BLAZEFACE_MODELS[options.variant ?? 'back'];
    const file = options.modelFile ?? model.file;
    const threads = options.threads ?? 2;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new ModelLoadError(file, `cannot read the file (${describe(err)})`);
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // The converted graph carries unused initialisers; onnxruntime warns about each one.
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new ModelLoadError(file, `not a valid ONNX model (${describe(err)})`);
    }
    checkSignature(session, model, file);
    const detector = new FaceDetector(session, model, options.scoreThreshold ?? model.defaultScoreThreshold, options.iouThreshold ?? 0.3, options.boxMapping ?? FITTED_BOX_MAPPINGS[model.name]);
    return detector;
  }

  /** Every face found, best score first; an empty list when there is none. */
  detect(image: RawImage): Promise<DetectedFace[]> {
    const run = this.queue.then(() => this.detectNow(image));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Raw detections (before mapping to image pixels), for fitting and diagnostics. */
  async detectRaw(image: RawImage): Promise<{ detections: RawDetection[]; transform: LetterboxTransform }> {
    const transform = await letterbox(image, this.model.inputSize, this.tensorData);
    const results = await this.session.run({ [this.model.inputName]: this.inputTensor });
    const outputs: GridOutput[] = this.model.grids.map((grid) => ({
      grid,
      scores: results[grid.scoresOutput].data as Float32Array,
      boxes: results[grid.boxesOutput].data as Float32Array,
    }));
    const candidates = decodeAnchors(outputs, this.model.inputSize, this.scoreThreshold);
    return { detections: weightedNms(candidates, this.iouThreshold), transform };
  }

  private async detectNow(image: RawImage): Promise<DetectedFace[]> {
    const { detections, transform } = await this.detectRaw(image);
    return detections.map((d) => toImageFace(d, transform, this.boxMapping));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function checkSignature(session: ort.InferenceSession, model: BlazeFaceModel, file: string): void {
  if (!session.inputNames.includes(model.inputName)) {
    throw new ModelLoadError(file, `no input named ${model.inputName} (inputs: ${session.inputNames.join(', ')})`);
  }
  for (const grid of model.grids) {
    for (const name of [grid.scoresOutput, grid.boxesOutput]) {
      if (!session.outputNames.includes(name)) throw new ModelLoadError(file, `no output named ${name} (outputs: ${session.outputNames.join(', ')}); expected a BlazeFace network with ${anchorCount(model.grids)} anchors`);
    }
  }
}

/** A raw detection (model-input pixels) in image pixels, with its protocol box. */
export function toImageFace(d: RawDetection, t: LetterboxTransform, mapping: BoxMapping): DetectedFace {
  const topLeft = inputToImage(t, d.cx - d.width / 2, d.cy - d.height / 2);
  const box = { x: topLeft.x, y: topLeft.y, width: d.width * t.scaleX, height: d.height * t.scaleY };
  const points = LANDMARK_ORDER.map((_, k) => inputToImage(t, d.keypoints[2 * k], d.keypoints[2 * k + 1]));
  const landmarks = Object.fromEntries(LANDMARK_ORDER.map((name, k) => [name, points[k]])) as unknown as FaceLandmarks;
  return { box, score: d.score, landmarks, protocolBox: mapToProtocolBox(mapping, box, landmarks) };
}
