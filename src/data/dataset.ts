/** Side of the square grey face images every model works on (Kaggle's and the YTF-15 protocol's). */
export const FACE_SIZE = 96;
export const FACE_PIXELS = FACE_SIZE * FACE_SIZE;

/**
 * Faces with keypoints, held as flat typed arrays so that they can be handed to the
 * native engine without copying row by row.
 */
export interface KeypointSet {
  /** Number of faces. */
  readonly size: number;
  /** Points per face (15 for Kaggle, 68 for iBUG 300-W). */
  readonly pointCount: number;
  /**
   * The keypoint schema's name (kaggle15, ibug68), as decided by a CSV's header. Optional: when
   * absent, the schema is the known one with `pointCount` points (see `schemaOfSet`).
   */
  readonly schema?: string;
  /** size * 96 * 96 grey values, row-major, face after face. */
  readonly images: Uint8Array;
  /** size * pointCount * 2 coordinates (x0,y0,x1,y1,...) in 96x96 crop pixels; NaN = missing. */
  readonly keypoints: Float64Array;
  /**
   * Optional per-coordinate flags (same layout as keypoints): 1 where the value was predicted
   * by a model (semi-supervised filling) rather than labelled by a person.
   */
  readonly predicted?: Uint8Array;
}

/** Faces without labels, as in Kaggle's test.csv. */
export interface ImageSet {
  readonly size: number;
  readonly imageIds: Int32Array;
  readonly images: Uint8Array;
}

/** Mask with 1 where a coordinate is present. */
export function presenceMask(set: KeypointSet): Uint8Array {
  const mask = new Uint8Array(set.keypoints.length);
  for (let i = 0; i < mask.length; i++) mask[i] = Number.isNaN(set.keypoints[i]) ? 0 : 1;
  return mask;
}

/** Index of faces whose every keypoint is present. */
export function completeRows(set: KeypointSet): number[] {
  const stride = set.pointCount * 2;
  const rows: number[] = [];
  for (let r = 0; r < set.size; r++) {
    let complete = true;
    for (let c = 0; c < stride && complete; c++) complete = !Number.isNaN(set.keypoints[r * stride + c]);
    if (complete) rows.push(r);
  }
  return rows;
}

/** A new set holding the chosen rows, in the given order. */
export function selectRows(set: KeypointSet, rows: readonly number[]): KeypointSet {
  const stride = set.pointCount * 2;
  const images = new Uint8Array(rows.length * FACE_PIXELS);
  const keypoints = new Float64Array(rows.length * stride);
  const predicted = set.predicted ? new Uint8Array(rows.length * stride) : undefined;
  rows.forEach((r, i) => {
    images.set(set.images.subarray(r * FACE_PIXELS, (r + 1) * FACE_PIXELS), i * FACE_PIXELS);
    keypoints.set(set.keypoints.subarray(r * stride, (r + 1) * stride), i * stride);
    predicted?.set(set.predicted!.subarray(r * stride, (r + 1) * stride), i * stride);
  });
  return { size: rows.length, pointCount: set.pointCount, schema: set.schema, images, keypoints, predicted };
}
