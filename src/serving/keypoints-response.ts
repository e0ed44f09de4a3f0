/** The JSON answer of POST /v1/keypoints, built from a pipeline result. */
import type { KeypointsResponse } from './api-types.js';
import type { ServedModel, ServedPhotoResult } from './pipeline-port.js';

/** Hundredths of a pixel (or millisecond) are well below any model's error; more digits only cost bytes. */
const round2 = (v: number): number => Math.round(v * 100) / 100;
const round4 = (v: number): number => Math.round(v * 10_000) / 10_000;

export function keypointsResponse(result: ServedPhotoResult, model: ServedModel, extra: { queueMs: number; requestMs: number }): KeypointsResponse {
  return {
    model: { name: model.name, version: model.version, schema: model.schema },
    width: result.width,
    height: result.height,
    faces: result.faces.map((face) => ({
      box: { x: round2(face.box.x), y: round2(face.box.y), width: round2(face.box.width), height: round2(face.box.height) },
      score: round4(face.score),
      cropBox: { cx: round2(face.cropBox.cx), cy: round2(face.cropBox.cy), s: round2(face.cropBox.s) },
      keypoints: face.keypoints.map((p) => ({ name: p.name, x: round2(p.x), y: round2(p.y) })),
    })),
    timings: {
      decodeMs: round2(result.timings.decodeMs),
      detectMs: round2(result.timings.detectMs),
      keypointsMs: round2(result.timings.keypointsMs),
      totalMs: round2(result.timings.totalMs),
      queueMs: round2(extra.queueMs),
      requestMs: round2(extra.requestMs),
    },
  };
}
