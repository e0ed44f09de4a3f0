export { createServer, type ServerOptions } from './server.js';
export { DEFAULT_LIMITS, type ServeLimits } from './limits.js';
export { ApiError, type ApiErrorBody, type ApiErrorCode } from './api-error.js';
export type { InferencePipeline, ServedModel, ServedPhotoResult, ServedFace } from './pipeline-port.js';
