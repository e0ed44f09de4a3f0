/**
 * How a predicted protocol box compares with the true one, and the rule for "the face was
 * found": some detection's predicted protocol square overlaps the true square with
 * IoU ≥ DETECTION_IOU.
 */
import type { FaceBox } from '../../data/crop.js';

/** The overlap above which a predicted protocol box counts as the labelled face found. */
export const DETECTION_IOU = 0.5;

/** Intersection over union of two squares given by centre and side. */
export function squareIou(a: FaceBox, b: FaceBox): number {
  const w = Math.min(a.cx + a.s / 2, b.cx + b.s / 2) - Math.max(a.cx - a.s / 2, b.cx - b.s / 2);
  const h = Math.min(a.cy + a.s / 2, b.cy + b.s / 2) - Math.max(a.cy - a.s / 2, b.cy - b.s / 2);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.s * a.s + b.s * b.s - inter);
}

/** Intersection of two squares over the smaller one's area: 1 when one contains the other. */
export function squareOverlapOfSmaller(a: FaceBox, b: FaceBox): number {
  const w = Math.min(a.cx + a.s / 2, b.cx + b.s / 2) - Math.max(a.cx - a.s / 2, b.cx - b.s / 2);
  const h = Math.min(a.cy + a.s / 2, b.cy + b.s / 2) - Math.max(a.cy - a.s / 2, b.cy - b.s / 2);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / Math.min(a.s * a.s, b.s * b.s);
}

/** Centre error as a fraction of the true side, and predicted side over true side. */
export function boxErrors(predicted: FaceBox, truth: FaceBox): { centreError: number; scaleRatio: number } {
  return {
    centreError: Math.hypot(predicted.cx - truth.cx, predicted.cy - truth.cy) / truth.s,
    scaleRatio: predicted.s / truth.s,
  };
}

/** Index of the candidate overlapping `truth` most, or −1 when none reaches `minIou`. */
export function bestMatch(candidates: readonly FaceBox[], truth: FaceBox, minIou: number = DETECTION_IOU): number {
  let best = -1;
  let bestIou = minIou;
  for (let i = 0; i < candidates.length; i++) {
    const iou = squareIou(candidates[i], truth);
    if (iou >= bestIou) {
      best = i;
      bestIou = iou;
    }
  }
  return best;
}

/** Overlap of the smaller box above which two networks' detections are one face. */
export const SAME_FACE_OVERLAP = 0.5;

/**
 * Merge the faces of several detector networks: a face both saw keeps the surer detection.
 * Containment, not IoU, decides "same face": the back network's box stops growing for faces
 * that fill the frame and sits inside the front network's. Best score first.
 */
export function mergeNetworkFaces<T extends { protocolBox: FaceBox; score: number }>(perNetwork: readonly (readonly T[])[]): T[] {
  const [first = [], ...others] = perNetwork;
  const merged: T[] = [...first];
  for (const found of others) {
    for (const face of found) {
      const same = merged.findIndex((k) => squareOverlapOfSmaller(face.protocolBox, k.protocolBox) > SAME_FACE_OVERLAP);
      if (same < 0) merged.push(face);
      else if (face.score > merged[same].score) merged[same] = face;
    }
  }
  return merged.sort((a, b) => b.score - a.score);
}
