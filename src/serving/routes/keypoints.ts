/** POST /v1/keypoints: one image in, faces and named keypoints out. */
import type { FastifyInstance } from 'fastify';
import { InputError } from '../../data/errors.js';
import { ApiError } from '../api-error.js';
import { checkImageHeader, uploadFromBody } from '../image-upload.js';
import type { InferenceGate } from '../inference-gate.js';
import { keypointsResponse } from '../keypoints-response.js';
import { sinceArrival } from '../request-clock.js';
import type { ServeLimits } from '../limits.js';
import type { InferencePipeline } from '../pipeline-port.js';

export function registerKeypointsRoute(app: FastifyInstance, deps: { pipeline: InferencePipeline; gate: InferenceGate; limits: ServeLimits }): void {
  const { pipeline, gate, limits } = deps;
  app.post('/v1/keypoints', async (request) => {
    const upload = await uploadFromBody(request.body, request.headers['content-type'], limits);
    await checkImageHeader(upload.bytes, limits);
    const { value: result, queueMs } = await gate.run(() => pipeline.detect(upload.bytes, { maxPixels: limits.maxPixels })).catch((err: unknown) => {
      // The header looked fine, so this is a damaged image (truncated, corrupt data).
      if (err instanceof InputError) throw new ApiError(422, 'undecodable_image', withoutLocation(err));
      throw err;
    });
    return keypointsResponse(result, pipeline.model, { queueMs, requestMs: sinceArrival(request.raw) });
  });
}

/** InputError's message without its "<image buffer>: " prefix (the client knows which image it sent). */
function withoutLocation(err: InputError): string {
  const prefix = `${err.location.file}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}
