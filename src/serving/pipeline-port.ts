/**
 * What the server needs from the inference pipeline: the part of `KeypointPipeline`
 * (src/inference/pipeline.ts) it uses, stated here so that tests can hand the server a fake
 * one for error paths, overload and shutdown without loading any model. `fkd serve` passes the
 * real class, so the compiler checks that the two agree.
 */

import type { FaceKeypoints, PhotoResult, PipelineModelInfo } from '../inference/pipeline.js';

export type ServedFace = FaceKeypoints;
export type ServedPhotoResult = PhotoResult;
/** The loaded model; its `file` is served to the browser for in-page inference. */
export type ServedModel = PipelineModelInfo;

export interface InferencePipeline {
  readonly model: ServedModel;
  /** Rejects with an InputError (src/data/errors.ts) for images it cannot decode or that exceed maxPixels. */
  detect(input: Uint8Array, options?: { maxPixels?: number }): Promise<ServedPhotoResult>;
  close(): Promise<void>;
}
