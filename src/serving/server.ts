/**
 * The HTTP server: fastify with the keypoint API, the web page and its assets, one error shape
 * for everything that goes wrong, and limits on what one client can make the server hold.
 * The pipeline is passed in (loaded once by the caller, who also closes it), so tests can give
 * it a fake one.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError, fromFrameworkError } from './api-error.js';
import { registerUploadParsers } from './image-upload.js';
import { InferenceGate } from './inference-gate.js';
import { DEFAULT_LIMITS, type ServeLimits } from './limits.js';
import { describeDetector, describeModel } from './model-description.js';
import { openApiDocument } from './openapi.js';
import type { InferencePipeline } from './pipeline-port.js';
import { registerInfoRoutes } from './routes/info.js';
import { registerKeypointsRoute } from './routes/keypoints.js';
import { markArrival } from './request-clock.js';
import { registerStaticAssets, staticAssets } from './static-assets.js';
import { loadWebApp } from './web-bundle.js';

export interface ServerOptions {
  pipeline: InferencePipeline;
  /** How the pipeline was loaded (flip TTA, minimum score), so that the page's in-browser inference can do the same. */
  inference?: { flipTta: boolean; minScore: number };
  limits?: Partial<ServeLimits>;
  /** fastify's logger option (false: silent). */
  logger?: boolean | { level: string };
  /** API version in the OpenAPI document. */
  version?: string;
}

/** The page's policy: everything from this server only (wasm compilation allowed for onnxruntime-web). */
const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.bodyBytes,
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    // Our own 503 (JSON, see the onRequest hook) instead of fastify's while closing.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    frameworkErrors: (error, request, reply) => sendError(request, reply, toApiError(error)),
  });

  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    methodsByPath.set(route.url, methods);
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request) => {
    markArrival(request.raw);
    if (closing) throw new ApiError(503, 'shutting_down', 'the server is shutting down', { 'retry-after': '5' });
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', PAGE_POLICY);
  });

  registerUploadParsers(app, limits);
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.statusCode >= 500 && apiError.code === 'internal') request.log.error({ err: error }, 'request failed');
    return sendError(request, reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = methodsByPath.get(path);
    if (allowed) {
      const allow = [...allowed].sort().join(', ');
      return sendError(request, reply, new ApiError(405, 'method_not_allowed', `${request.method} is not allowed on ${path}; use ${allow}`, { allow }));
    }
    return sendError(request, reply, new ApiError(404, 'not_found', `no such resource: ${path.slice(0, 200)}`));
  });

  const gate = new InferenceGate(limits.maxConcurrent, limits.maxQueued);
  const model = await describeModel(options.pipeline.model, options.inference ?? { flipTta: false, minScore: 0 });
  registerKeypointsRoute(app, { pipeline: options.pipeline, gate, limits });
  registerInfoRoutes(app, { models: { models: [model], detector: describeDetector() }, gate, openApi: openApiDocument(limits, options.version ?? '0.1.0') });
  registerStaticAssets(app, staticAssets({ appScript: await loadWebApp(), keypointModelFile: model.url ? options.pipeline.model.file : undefined }));
  return app;
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const e = error as Partial<FastifyError>;
  return fromFrameworkError({ statusCode: e.statusCode, code: e.code, message: e.message ?? String(error) });
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  reply.code(error.statusCode).headers(error.headers);
  // The rest of an unread body is not worth reading (too large, too slow): close afterwards.
  if (!request.raw.complete || error.statusCode === 408) reply.header('connection', 'close');
  return reply.type('application/json; charset=utf-8').send(error.toBody());
}
