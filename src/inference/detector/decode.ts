/**
 * BlazeFace output decoding and MediaPipe's weighted non-maximum suppression, in model-input
 * pixels (continuous coordinates: the input's pixel i covers [i, i + 1]).
 */
import { KEYPOINTS_PER_ANCHOR, REGRESSORS_PER_ANCHOR, type AnchorGrid } from './blazeface-model.js';

/** One anchor's (or one merged cluster's) detection in model-input pixels. */
export interface RawDetection {
  score: number;
  /** Box centre and size. */
  cx: number;
  cy: number;
  width: number;
  height: number;
  /** Six keypoints x0,y0,…,x5,y5 in the model's order (see blazeface-model.ts). */
  keypoints: Float64Array;
}

/** MediaPipe clips logits to ±100 before the sigmoid. */
const LOGIT_CLIP = 100;

function sigmoid(logit: number): number {
  const x = Math.max(-LOGIT_CLIP, Math.min(LOGIT_CLIP, logit));
  return 1 / (1 + Math.exp(-x));
}

export interface GridOutput {
  readonly grid: AnchorGrid;
  /** One logit per anchor. */
  readonly scores: Float32Array;
  /** REGRESSORS_PER_ANCHOR values per anchor. */
  readonly boxes: Float32Array;
}

/** Anchors whose score exceeds minScore, decoded; `inputSize` is the model's square input side. */
export function decodeAnchors(outputs: readonly GridOutput[], inputSize: number, minScore: number): RawDetection[] {
  // Compare logits, so that the sigmoid runs only for the few anchors kept.
  const minLogit = Math.log(minScore / (1 - minScore));
  const found: RawDetection[] = [];
  for (const { grid, scores, boxes } of outputs) {
    const anchors = grid.cells * grid.cells * grid.perCell;
    if (scores.length !== anchors || boxes.length !== anchors * REGRESSORS_PER_ANCHOR) {
      throw new RangeError(`BlazeFace output for the ${grid.cells}x${grid.cells} grid has ${scores.length} scores and ${boxes.length} regressors, expected ${anchors} and ${anchors * REGRESSORS_PER_ANCHOR}`);
    }
    const cellSize = inputSize / grid.cells;
    for (let a = 0; a < anchors; a++) {
      if (!(scores[a] > minLogit)) continue;
      const cell = Math.floor(a / grid.perCell);
      const ax = ((cell % grid.cells) + 0.5) * cellSize;
      const ay = (Math.floor(cell / grid.cells) + 0.5) * cellSize;
      const r = a * REGRESSORS_PER_ANCHOR;
      const keypoints = new Float64Array(2 * KEYPOINTS_PER_ANCHOR);
      for (let k = 0; k < KEYPOINTS_PER_ANCHOR; k++) {
        keypoints[2 * k] = ax + boxes[r + 4 + 2 * k];
        keypoints[2 * k + 1] = ay + boxes[r + 5 + 2 * k];
      }
      found.push({
        score: sigmoid(scores[a]),
        cx: ax + boxes[r],
        cy: ay + boxes[r + 1],
        width: boxes[r + 2],
        height: boxes[r + 3],
        keypoints,
      });
    }
  }
  return found;
}

/** Intersection over union of two centre-size boxes (0 when either is empty). */
export function iouCentred(a: Pick<RawDetection, 'cx' | 'cy' | 'width' | 'height'>, b: Pick<RawDetection, 'cx' | 'cy' | 'width' | 'height'>): number {
  const w = Math.min(a.cx + a.width / 2, b.cx + b.width / 2) - Math.max(a.cx - a.width / 2, b.cx - b.width / 2);
  const h = Math.min(a.cy + a.height / 2, b.cy + b.height / 2) - Math.max(a.cy - a.height / 2, b.cy - b.height / 2);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * MediaPipe's weighted NMS: take the best remaining detection, gather every remaining one
 * overlapping it by more than `iouThreshold`, and replace the group by its score-weighted
 * mean (box and keypoints) carrying the best score. BlazeFace fires on several neighbouring
 * anchors per face; averaging them steadies the box more than keeping the single best.
 */
/** MediaPipe's IoU above which one network's detections are merged into one face. */
export const MEDIAPIPE_IOU_THRESHOLD = 0.3;

export function weightedNms(detections: readonly RawDetection[], iouThreshold: number): RawDetection[] {
  const remaining = [...detections].sort((a, b) => b.score - a.score);
  const merged: RawDetection[] = [];
  while (remaining.length > 0) {
    const best = remaining[0];
    const group: RawDetection[] = [];
    const rest: RawDetection[] = [];
    for (const d of remaining) (iouCentred(best, d) > iouThreshold || d === best ? group : rest).push(d);
    let total = 0;
    const mean: RawDetection = { score: best.score, cx: 0, cy: 0, width: 0, height: 0, keypoints: new Float64Array(best.keypoints.length) };
    for (const d of group) {
      total += d.score;
      mean.cx += d.score * d.cx;
      mean.cy += d.score * d.cy;
      mean.width += d.score * d.width;
      mean.height += d.score * d.height;
      for (let k = 0; k < mean.keypoints.length; k++) mean.keypoints[k] += d.score * d.keypoints[k];
    }
    mean.cx /= total;
    mean.cy /= total;
    mean.width /= total;
    mean.height /= total;
    for (let k = 0; k < mean.keypoints.length; k++) mean.keypoints[k] /= total;
    merged.push(mean);
    remaining.length = 0;
    remaining.push(...rest);
  }
  return merged;
}
