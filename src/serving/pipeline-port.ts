/**
 * What the server needs from the inference pipeline: the part of `KeypointPipeline`
 * (src/inference/pipeline.ts) it uses, stated here so that tests can hand the server a fake
 * one for error paths, overload and shutdown without loading any model. `fkd serve` passes the
 * real class, so the compiler checks that the two agree.
 */

export interface ServedFace {
  box: { x: number; y: number; width: number; height: number };
  score: number;
  cropBox: { cx: number; cy: number; s: number };
  keypoints: { name: string; x: number; y: number }[];
}

export interface ServedPhotoResult {
  width: number;
  height: number;
  faces: ServedFace[];
  timings: { decodeMs: number; detectMs: number; keypointsMs: number; totalMs: number };
}

export interface ServedModel {
  readonly name: string;
  readonly version: string;
  readonly schema: string;
  readonly points: readonly string[];
  /** The ONNX file (served to the browser for in-page inference). */
  readonly file: string;
  readonly card?: unknown;
}

export interface InferencePipeline {
  readonly model: ServedModel;
  /** Rejects with an InputError (src/data/errors.ts) for images it cannot decode or that exceed maxPixels. */
  detect(input: Uint8Array, options?: { maxPixels?: number }): Promise<ServedPhotoResult>;
  close(): Promise<void>;
}
