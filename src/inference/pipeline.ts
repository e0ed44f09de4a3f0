/**
 * Photos in, keypoints out: decode (EXIF orientation applied, oversized images refused from
 * their header before decoding), find faces (BlazeFace), crop each by the YTF-15 protocol box
 * the detector predicts, run the keypoint model on all faces of the photo in one batch, and map
 * the keypoints back to photo pixels.
 *
 * This module's exported names and shapes are a contract (the HTTP server is built on them):
 * change them only together with their users.
 */
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { decodeImage, toGrey, type ImageInput } from '../data/image.js';
import { FaceDetector } from './detector/face-detector.js';
import { KeypointModel } from './keypoint-model.js';
import { cropFaceBatch, namedImagePoints } from './photo/face-batch.js';
import { DEFAULT_MODEL_FILE, describeModel, type PipelineModelInfo } from './photo/model-info.js';

export { DEFAULT_MODEL_FILE, type PipelineModelInfo } from './photo/model-info.js';

export interface FaceKeypoints {
  /** The detector's box, image pixels. */
  box: { x: number; y: number; width: number; height: number };
  score: number;
  /** The protocol box the face was cropped by. */
  cropBox: { cx: number; cy: number; s: number };
  /** Image pixels (0-based, pixel centres at integers), in the model's schema order. */
  keypoints: { name: string; x: number; y: number }[];
}

export interface PhotoResult {
  /** The photo's size as displayed (after EXIF orientation). */
  width: number;
  height: number;
  /** Best detector score first; empty when no face was found. */
  faces: FaceKeypoints[];
  timings: { decodeMs: number; detectMs: number; keypointsMs: number; totalMs: number };
}

export interface PipelineOptions {
  /** ONNX keypoint model (fkd export); default models/default.onnx. */
  model?: string;
  /** onnxruntime intra-op threads for the detector and the keypoint model (default: every core). */
  threads?: number;
  /** Also predict each face mirrored and average (slower, slightly more accurate). */
  flipTta?: boolean;
  /** Refuse images with more pixels than this, judged from the header (default PHOTO_MAX_PIXELS). */
  maxPixels?: number;
  /** Drop faces the detector scores below this (on top of the detector's own thresholds). */
  minScore?: number;
}

/** Per-call settings; each defaults to the pipeline's own (from load). */
export interface PhotoDetectOptions {
  maxPixels?: number;
  flipTta?: boolean;
  minScore?: number;
}

/** 40 megapixels: above any phone photo, and ~120 MB once decoded to RGB. */
export const PHOTO_MAX_PIXELS = 40_000_000;

export class KeypointPipeline {
  private closed = false;

  private constructor(
    readonly model: PipelineModelInfo,
    private readonly detector: FaceDetector,
    private readonly keypoints: KeypointModel,
    private readonly defaults: Required<Pick<PipelineOptions, 'flipTta' | 'maxPixels' | 'minScore'>>,
  ) {}

  /** Loads the detector and the keypoint model; a missing, corrupt or foreign model is an InputError naming the file. */
  static async load(options: PipelineOptions = {}): Promise<KeypointPipeline> {
    const threads = options.threads ?? availableParallelism();
    const maxPixels = options.maxPixels ?? PHOTO_MAX_PIXELS;
    const minScore = options.minScore ?? 0;
    if (!(maxPixels >= 1)) throw new RangeError(`maxPixels must be at least 1, got ${maxPixels}`);
    if (!(minScore >= 0 && minScore <= 1)) throw new RangeError(`minScore must be in [0, 1], got ${minScore}`);
    const file = resolve(options.model ?? DEFAULT_MODEL_FILE);
    const keypoints = await KeypointModel.load(file, { threads });
    let model: PipelineModelInfo;
    let detector: FaceDetector;
    try {
      model = describeModel(file, keypoints.info);
      detector = await FaceDetector.load({ threads });
    } catch (err) {
      await keypoints.close();
      throw err;
    }
    return new KeypointPipeline(model, detector, keypoints, { flipTta: options.flipTta ?? false, maxPixels, minScore });
  }

  /**
   * Faces and their keypoints in one photo (a path or the file's bytes). A photo without a face
   * gives an empty list; an unreadable, truncated or oversized image is an InputError naming it.
   */
  async detect(input: string | Uint8Array, options: PhotoDetectOptions = {}): Promise<PhotoResult> {
    if (this.closed) throw new Error('KeypointPipeline: detect() after close()');
    const maxPixels = options.maxPixels ?? this.defaults.maxPixels;
    const minScore = options.minScore ?? this.defaults.minScore;
    const flipTta = options.flipTta ?? this.defaults.flipTta;
    const started = performance.now();

    const image = await decodeImage(input as ImageInput, { applyExifOrientation: true, maxPixels });
    const decoded = performance.now();

    const detected = (await this.detector.detect(image)).filter((face) => face.score >= minScore);
    const found = performance.now();

    const faces: FaceKeypoints[] = [];
    if (detected.length > 0) {
      const size = this.keypoints.inputSize;
      const boxes = detected.map((face) => face.protocolBox);
      const coords = await this.keypoints.predict(cropFaceBatch(toGrey(image), boxes, size), { flipTta });
      detected.forEach((face, i) => {
        faces.push({
          box: { x: face.box.x, y: face.box.y, width: face.box.width, height: face.box.height },
          score: face.score,
          cropBox: { cx: boxes[i].cx, cy: boxes[i].cy, s: boxes[i].s },
          keypoints: namedImagePoints(boxes[i], coords, i, this.model.points, size),
        });
      });
    }
    const done = performance.now();
    return {
      width: image.width,
      height: image.height,
      faces,
      timings: { decodeMs: decoded - started, detectMs: found - decoded, keypointsMs: done - found, totalMs: done - started },
    };
  }

  /** Frees the onnxruntime sessions; waits for runs in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.detector.close(), this.keypoints.close()]);
  }
}

/** Pipelines detectKeypoints has loaded, by model file and threads (the load-time settings). */
const cachedPipelines = new Map<string, Promise<KeypointPipeline>>();

/**
 * Keypoints of every face in one photo, for library callers: the pipeline for this model and
 * thread count is loaded on first use and kept (closeCachedPipelines frees them).
 */
export async function detectKeypoints(image: string | Uint8Array, options: PipelineOptions = {}): Promise<FaceKeypoints[]> {
  const model = resolve(options.model ?? DEFAULT_MODEL_FILE);
  const threads = options.threads ?? availableParallelism();
  const key = `${threads}\u0000${model}`;
  let pipeline = cachedPipelines.get(key);
  if (!pipeline) {
    pipeline = KeypointPipeline.load({ model, threads });
    cachedPipelines.set(key, pipeline);
    // A model that failed to load is not cached: the next call tries again (e.g. once the file exists).
    pipeline.catch(() => cachedPipelines.delete(key));
  }
  const result = await (await pipeline).detect(image, { maxPixels: options.maxPixels, flipTta: options.flipTta, minScore: options.minScore });
  return result.faces;
}

/** Closes every pipeline detectKeypoints loaded. */
export async function closeCachedPipelines(): Promise<void> {
  const pipelines = [...cachedPipelines.values()];
  cachedPipelines.clear();
  await Promise.all(pipelines.map(async (p) => (await p.catch(() => undefined))?.close()));
}
