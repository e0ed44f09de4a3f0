/**
 * Every error the API answers has one shape, `{ error: { code, message } }`, and a stable
 * machine-readable code; the message is for people.
 */

export type ApiErrorCode =
  | 'bad_request'
  | 'empty_body'
  | 'missing_file'
  | 'body_too_large'
  | 'image_too_large'
  | 'unsupported_media_type'
  | 'undecodable_image'
  | 'request_timeout'
  | 'not_found'
  | 'method_not_allowed'
  | 'overloaded'
  | 'shutting_down'
  | 'internal';

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Extra response headers (Allow for 405, Retry-After for 503). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Fastify's own errors (body limit, bad content length, …) translated to API errors by status. */
export function fromFrameworkError(err: { statusCode?: number; code?: string; message: string }): ApiError {
  const status = err.statusCode ?? 500;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'body_too_large', 'request body is larger than the server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'unsupported content type; send an image (image/jpeg, image/png, image/webp, …), application/octet-stream or multipart/form-data');
    case 'FST_ERR_CTP_EMPTY_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'missing or malformed Content-Type header');
    case 'FST_ERR_HANDLER_TIMEOUT':
      return new ApiError(503, 'overloaded', 'the request took too long to process; try again later', { 'retry-after': '1' });
  }
  if (status === 408) return new ApiError(408, 'request_timeout', 'the request body did not arrive in time');
  if (status === 413) return new ApiError(413, 'body_too_large', 'request body is larger than the server accepts');
  if (status === 415) return new ApiError(415, 'unsupported_media_type', err.message);
  if (status >= 400 && status < 500) return new ApiError(status, 'bad_request', err.message);
  // Server-side failures never leak internals (stack, paths) to the client.
  return new ApiError(500, 'internal', 'internal server error');
}
