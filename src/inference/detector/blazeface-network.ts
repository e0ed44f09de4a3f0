/**
 * One BlazeFace network: its ONNX session (CPU), its reusable input buffer, decoding, weighted
 * NMS, and its box mapping. Not safe for overlapping run() calls (they share the buffer):
 * FaceDetector serialises them.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { RawImage } from '../../data/image.js';
import { anchorCount, type BlazeFaceModel } from './blazeface-model.js';
import { decodeAnchors, weightedNms, type GridOutput, type RawDetection } from './decode.js';
import { inputToImage, letterbox, type LetterboxTransform } from './letterbox.js';
import { mapToProtocolBox, type BoxMapping } from './box-mapping.js';
import { LANDMARK_ORDER, type DetectedFace, type FaceLandmarks } from './detected-face.js';

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

export interface NetworkSettings {
  readonly file: string;
  readonly threads: number;
  readonly scoreThreshold: number;
  readonly iouThreshold: number;
  readonly boxMapping: BoxMapping;
}

export class BlazeFaceNetwork {
  private readonly tensorData: Float32Array;
  private readonly inputTensor: ort.Tensor;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly model: BlazeFaceModel,
    private readonly settings: NetworkSettings,
  ) {
    const n = model.inputSize;
    this.tensorData = new Float32Array(n * n * 3);
    this.inputTensor = new ort.Tensor('float32', this.tensorData, [1, n, n, 3]);
  }

  static async load(model: BlazeFaceModel, settings: NetworkSettings): Promise<BlazeFaceNetwork> {
    const { file } = settings;
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
        intraOpNumThreads: settings.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // The converted graph carries unused initialisers; onnxruntime warns about each one.
        logSeverityLevel: 3,
        // Spinning worker threads wait for work by busy-looping; on two shared cores that
        // starves everything else (measured: 2 spinning threads ran 2.5x slower than 1 under load).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
    } catch (err) {
      throw new ModelLoadError(file, `not a valid ONNX model (${describe(err)})`);
    }
    try {
      checkSignature(session, model, file);
    } catch (err) {
      await session.release();
      throw err;
    }
    return new BlazeFaceNetwork(session, model, settings);
  }

  /** Faces in image pixels, best score first. */
  async run(image: RawImage): Promise<DetectedFace[]> {
    const transform = await letterbox(image, this.model.inputSize, this.tensorData);
    const results = await this.session.run({ [this.model.inputName]: this.inputTensor });
    const outputs: GridOutput[] = this.model.grids.map((grid) => ({
      grid,
      scores: results[grid.scoresOutput].data as Float32Array,
      boxes: results[grid.boxesOutput].data as Float32Array,
    }));
    const candidates = decodeAnchors(outputs, this.model.inputSize, this.settings.scoreThreshold);
    return weightedNms(candidates, this.settings.iouThreshold).map((d) => toImageFace(d, transform, this.settings.boxMapping));
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
