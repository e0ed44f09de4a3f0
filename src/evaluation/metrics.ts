import type { KeypointSchema } from '../schema/types.js';

/** Per-keypoint error figures, in 96x96 crop pixels. */
export interface KeypointError {
  name: string;
  /** Labelled coordinates scored (x and y count separately, as in Kaggle's metric). */
  coordinates: number;
  mse: number;
  rmse: number;
  /** Mean Euclidean distance between predicted and true point. */
  meanDistance: number;
}

/** One face's error, for the distribution and the worst-faces gallery. */
export interface FaceError {
  row: number;
  /** Mean point-to-point distance over its labelled points, in pixels. */
  meanDistance: number;
  /** meanDistance / outer-eye-corner distance (NaN when a corner is unlabelled). */
  nme: number;
  /** RMSE over its labelled coordinates. */
  rmse: number;
}

export interface Evaluation {
  faces: number;
  /** Labelled coordinates scored. */
  coordinates: number;
  /** Kaggle's metric and its square, over every labelled coordinate. */
  mse: number;
  rmse: number;
  /** Mean over faces of their NME (faces with both outer eye corners labelled). */
  nme: number;
  perKeypoint: KeypointError[];
  perFace: FaceError[];
  /** Share of faces whose NME is at most each threshold (cumulative error distribution). */
  ced: { nme: number; share: number }[];
  /** Share of faces with NME above 0.10 (300-W's usual failure threshold). */
  failureRate: number;
  /** Area under the CED curve up to NME 0.08, divided by 0.08 (1 = perfect). */
  aucAt008: number;
}

/** Points along the CED curve. */
const CED_STEPS = 200;
const CED_MAX = 0.2;

/**
 * Score predictions against labels: Kaggle's RMSE over labelled coordinates (NaN labels cost
 * nothing, as in Kaggle's and the YTF-15 protocol's metric), per keypoint, and per face NME.
 */
export function evaluateKeypoints(predictions: ArrayLike<number>, labels: ArrayLike<number>, schema: KeypointSchema): Evaluation {
  const points = schema.points.length;
  const stride = points * 2;
  if (predictions.length !== labels.length || labels.length % stride !== 0) {
    throw new RangeError(`evaluateKeypoints: ${predictions.length} predicted and ${labels.length} labelled values for ${points}-point faces`);
  }
  const faces = labels.length / stride;
  const sumSq = new Float64Array(points);
  const coordCount = new Float64Array(points);
  const distSum = new Float64Array(points);
  const distCount = new Float64Array(points);
  const perFace: FaceError[] = [];
  const [a, b] = schema.normalisingPair;

  for (let f = 0; f < faces; f++) {
    let faceSq = 0;
    let faceCoords = 0;
    let faceDist = 0;
    let facePoints = 0;
    for (let p = 0; p < points; p++) {
      const i = f * stride + 2 * p;
      const tx = labels[i];
      const ty = labels[i + 1];
      const dx = predictions[i] - tx;
      const dy = predictions[i + 1] - ty;
      if (!Number.isNaN(tx)) {
        sumSq[p] += dx * dx;
        coordCount[p]++;
        faceSq += dx * dx;
        faceCoords++;
      }
      if (!Number.isNaN(ty)) {
        sumSq[p] += dy * dy;
        coordCount[p]++;
        faceSq += dy * dy;
        faceCoords++;
      }
      if (!Number.isNaN(tx) && !Number.isNaN(ty)) {
        const d = Math.hypot(dx, dy);
        distSum[p] += d;
        distCount[p]++;
        faceDist += d;
        facePoints++;
      }
    }
    if (faceCoords === 0) continue;
    const at = (p: number, c: number) => labels[f * stride + 2 * p + c];
    const norm = Math.hypot(at(a, 0) - at(b, 0), at(a, 1) - at(b, 1));
    const meanDistance = facePoints ? faceDist / facePoints : Number.NaN;
    perFace.push({ row: f, meanDistance, nme: norm > 0 ? meanDistance / norm : Number.NaN, rmse: Math.sqrt(faceSq / faceCoords) });
  }

  const totalSq = sumSq.reduce((s, v) => s + v, 0);
  const totalCoords = coordCount.reduce((s, v) => s + v, 0);
  const nmes = perFace.map((f) => f.nme).filter((v) => !Number.isNaN(v)).sort((x, y) => x - y);
  const shareAtMost = (t: number): number => {
    let lo = 0;
    let hi = nmes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nmes[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return nmes.length ? lo / nmes.length : Number.NaN;
  };
  const ced = Array.from({ length: CED_STEPS + 1 }, (_, k) => {
    const nme = (k / CED_STEPS) * CED_MAX;
    return { nme, share: shareAtMost(nme) };
  });
  // Trapezoid rule on a fine grid up to 0.08.
  const aucSteps = 800;
  let auc = 0;
  for (let k = 0; k < aucSteps; k++) auc += (shareAtMost((k / aucSteps) * 0.08) + shareAtMost(((k + 1) / aucSteps) * 0.08)) / 2;

  return {
    faces: perFace.length,
    coordinates: totalCoords,
    mse: totalCoords ? totalSq / totalCoords : Number.NaN,
    rmse: totalCoords ? Math.sqrt(totalSq / totalCoords) : Number.NaN,
    nme: nmes.length ? nmes.reduce((s, v) => s + v, 0) / nmes.length : Number.NaN,
    perKeypoint: schema.points.map((name, p) => ({
      name,
      coordinates: coordCount[p],
      mse: coordCount[p] ? sumSq[p] / coordCount[p] : Number.NaN,
      rmse: coordCount[p] ? Math.sqrt(sumSq[p] / coordCount[p]) : Number.NaN,
      meanDistance: distCount[p] ? distSum[p] / distCount[p] : Number.NaN,
    })),
    perFace,
    ced,
    failureRate: nmes.length ? 1 - shareAtMost(0.1) : Number.NaN,
    aucAt008: nmes.length ? auc / aucSteps : Number.NaN,
  };
}

/** Row indices of the n faces with the largest error (by RMSE), worst first. */
export function worstFaces(evaluation: Evaluation, n: number): number[] {
  return [...evaluation.perFace].sort((x, y) => y.rmse - x.rmse).slice(0, n).map((f) => f.row);
}
