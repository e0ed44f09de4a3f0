/**
 * BlazeFace in the browser (onnxruntime-web), mirroring src/inference/detector/face-detector.ts:
 * letterbox, the same anchor decoding, weighted NMS and box mapping (imported from the server's
 * modules), and the same merge of the two networks' faces. Only the resize differs (the
 * canvas's instead of libvips's), so results agree with the server's to a fraction of a pixel
 * rather than exactly; the browser test checks how closely.
 */
import * as ort from 'onnxruntime-web';
import { BLAZEFACE_MODELS, type BlazeFaceModel, type BlazeFaceVariant } from '../../src/inference/detector/blazeface-model.js';
import { FITTED_BOX_MAPPINGS, mapToProtocolBox } from '../../src/inference/detector/box-mapping.js';
import { MEDIAPIPE_IOU_THRESHOLD, decodeAnchors, weightedNms, type GridOutput, type RawDetection } from '../../src/inference/detector/decode.js';
import { LANDMARK_ORDER, type DetectedFace, type FaceLandmarks } from '../../src/inference/detector/detected-face.js';
import { mergeNetworkFaces } from '../../src/inference/detector/protocol-match.js';
import type { DetectorDescription } from '../../src/serving/api-types.js';
import type { Frame } from './frame.js';

interface Letterbox {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

class BrowserBlazeFace {
  private readonly canvas = document.createElement('canvas');
  private readonly input: Float32Array;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly model: BlazeFaceModel,
  ) {
    const n = model.inputSize;
    this.canvas.width = n;
    this.canvas.height = n;
    this.input = new Float32Array(n * n * 3);
  }

  async run(frame: Frame): Promise<DetectedFace[]> {
    const transform = this.letterbox(frame);
    const n = this.model.inputSize;
    const results = await this.session.run({ [this.model.inputName]: new ort.Tensor('float32', this.input, [1, n, n, 3]) });
    const outputs: GridOutput[] = this.model.grids.map((grid) => ({
      grid,
      scores: results[grid.scoresOutput].data as Float32Array,
      boxes: results[grid.boxesOutput].data as Float32Array,
    }));
    const candidates = decodeAnchors(outputs, n, this.model.defaultScoreThreshold);
    return weightedNms(candidates, MEDIAPIPE_IOU_THRESHOLD).map((d) => toImageFace(d, transform, this.model.name));
  }

  /** letterbox.ts's geometry: longer side to the input side, centred, black padding, channels to [−1, 1]. */
  private letterbox(frame: Frame): Letterbox {
    const size = this.model.inputSize;
    const fit = size / Math.max(frame.width, frame.height);
    const innerW = Math.max(1, Math.min(size, Math.round(frame.width * fit)));
    const innerH = Math.max(1, Math.min(size, Math.round(frame.height * fit)));
    const padX = Math.floor((size - innerW) / 2);
    const padY = Math.floor((size - innerH) / 2);
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true })!;
    ctx.fillStyle = 'black';
    ctx.fillRect(0, 0, size, size);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(frame.canvas, 0, 0, frame.width, frame.height, padX, padY, innerW, innerH);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    for (let p = 0, q = 0; p < size * size; p++, q += 4) {
      this.input[3 * p] = rgba[q] / 127.5 - 1;
      this.input[3 * p + 1] = rgba[q + 1] / 127.5 - 1;
      this.input[3 * p + 2] = rgba[q + 2] / 127.5 - 1;
    }
    return { scaleX: frame.width / innerW, scaleY: frame.height / innerH, padX, padY };
  }
}

/** blazeface-network.ts's toImageFace: model-input pixels to image pixels, plus the protocol box. */
function toImageFace(d: RawDetection, t: Letterbox, variant: BlazeFaceVariant): DetectedFace {
  const toImage = (u: number, v: number) => ({ x: (u - t.padX) * t.scaleX - 0.5, y: (v - t.padY) * t.scaleY - 0.5 });
  const topLeft = toImage(d.cx - d.width / 2, d.cy - d.height / 2);
  const box = { x: topLeft.x, y: topLeft.y, width: d.width * t.scaleX, height: d.height * t.scaleY };
  const landmarks = Object.fromEntries(LANDMARK_ORDER.map((name, k) => [name, toImage(d.keypoints[2 * k], d.keypoints[2 * k + 1])])) as unknown as FaceLandmarks;
  return { box, score: d.score, landmarks, protocolBox: mapToProtocolBox(FITTED_BOX_MAPPINGS[variant], box, landmarks) };
}

export class BrowserFaceDetector {
  private constructor(private readonly networks: readonly BrowserBlazeFace[]) {}

  /** Loads the networks the server describes, in its order of precedence. */
  static async load(description: DetectorDescription, options: ort.InferenceSession.SessionOptions): Promise<BrowserFaceDetector> {
    const networks = await Promise.all(
      description.variants.map(async (v) => new BrowserBlazeFace(await ort.InferenceSession.create(v.url, options), BLAZEFACE_MODELS[v.name])),
    );
    return new BrowserFaceDetector(networks);
  }

  /** Every face, best score first (face-detector.ts's detectNow). */
  async detect(frame: Frame): Promise<DetectedFace[]> {
    const perNetwork: DetectedFace[][] = [];
    for (const network of this.networks) perNetwork.push(await network.run(frame));
    return mergeNetworkFaces(perNetwork);
  }
}
