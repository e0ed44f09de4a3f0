/**
 * Face detection in photos: BlazeFace networks (ONNX, CPU, one session each, loaded once) over
 * a letterboxed copy of the image, anchors decoded, weighted NMS, results in image pixels, and
 * each face's protocol box (the YTF-15 crop square) predicted by the fitted box mapping.
 *
 * By default two networks run: `back` (256x256) finds faces down to a few percent of the
 * photo's size but misses faces that fill the whole frame; `front` (128x128, cheap) finds
 * those. Where both found the same face, the one with the higher score is kept.
 */
import type { RawImage } from '../../data/image.js';
import { BLAZEFACE_MODELS, type BlazeFaceVariant } from './blazeface-model.js';
import { BlazeFaceNetwork } from './blazeface-network.js';
import { FITTED_BOX_MAPPINGS } from './box-mapping.js';
import { MEDIAPIPE_IOU_THRESHOLD } from './decode.js';
import type { DetectedFace } from './detected-face.js';
import { mergeNetworkFaces } from './protocol-match.js';

export { ModelLoadError } from './blazeface-network.js';
export { LANDMARK_ORDER, type DetectedFace, type FaceLandmarks, type Point } from './detected-face.js';

export interface FaceDetectorOptions {
  /** Networks to run, in order of precedence (default back, then front). */
  readonly variants?: readonly BlazeFaceVariant[];
  /** Another ONNX file with the same inputs and outputs; only with a single variant. */
  readonly modelFile?: string;
  /** Minimum score after the sigmoid, for every network (default: back 0.5, MediaPipe's; front 0.6). */
  readonly scoreThreshold?: number;
  /** IoU above which one network's detections are merged (default 0.3, MediaPipe's). */
  readonly iouThreshold?: number;
  /** onnxruntime intra-op threads per network (default 2: the project's machines have two cores). */
  readonly threads?: number;
}

export const DEFAULT_VARIANTS: readonly BlazeFaceVariant[] = ['back', 'front'];

export class FaceDetector {
  /** Serialises detect() calls: each network's input buffer is shared between calls. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly networks: readonly BlazeFaceNetwork[]) {}

  static async load(options: FaceDetectorOptions = {}): Promise<FaceDetector> {
    const variants = options.variants ?? DEFAULT_VARIANTS;
    if (variants.length === 0) throw new RangeError('FaceDetector: no network variant given');
    if (options.modelFile !== undefined && variants.length !== 1) {
      throw new RangeError(`FaceDetector: modelFile replaces one network; ${variants.length} variants given (${variants.join(', ')})`);
    }
    const iouThreshold = options.iouThreshold ?? MEDIAPIPE_IOU_THRESHOLD;
    const networks: BlazeFaceNetwork[] = [];
    try {
      for (const variant of variants) {
        const model = BLAZEFACE_MODELS[variant];
        networks.push(
          await BlazeFaceNetwork.load(model, {
            file: options.modelFile ?? model.file,
            threads: options.threads ?? 2,
            scoreThreshold: options.scoreThreshold ?? model.defaultScoreThreshold,
            iouThreshold,
            boxMapping: FITTED_BOX_MAPPINGS[variant],
          }),
        );
      }
    } catch (err) {
      await Promise.all(networks.map((n) => n.close()));
      throw err;
    }
    return new FaceDetector(networks);
  }

  /** The networks' variants, in order of precedence. */
  get variants(): BlazeFaceVariant[] {
    return this.networks.map((n) => n.model.name);
  }

  /** Every face found, best score first; an empty list when there is none. */
  detect(image: RawImage): Promise<DetectedFace[]> {
    const run = this.queue.then(() => this.detectNow(image));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async detectNow(image: RawImage): Promise<DetectedFace[]> {
    const perNetwork: DetectedFace[][] = [];
    for (const network of this.networks) perNetwork.push(await network.run(image));
    return mergeNetworkFaces(perNetwork);
  }

  async close(): Promise<void> {
    await Promise.all(this.networks.map((n) => n.close()));
  }
}
