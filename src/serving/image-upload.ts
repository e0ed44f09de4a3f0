/**
 * Getting the image out of a POST: which content types are accepted, the body reader (size
 * limit and arrival deadline), the multipart form's file part, and the checks made on the
 * image's header before any pixel is decoded (format, pixel count).
 */
import type { ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import type { FastifyInstance } from 'fastify';
import { readImageHeader } from '../data/image.js';
import { InputError } from '../data/errors.js';
import { ApiError } from './api-error.js';
import type { ServeLimits } from './limits.js';

/** Content types a raw-body upload may declare; the format itself is always sniffed from the bytes. */
export const RAW_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'application/octet-stream'] as const;
export const MULTIPART_TYPE = 'multipart/form-data';

/**
 * Formats (as libvips names them) the server decodes. Others libvips could read are refused:
 * SVG and PDF run renderers over untrusted documents, and nobody photographs faces in them.
 */
export const DECODABLE_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

/** An uploaded image's bytes, before decoding. */
export interface Upload {
  readonly bytes: Buffer;
  /** The declared content type (of the multipart part, for forms), lower-case, without parameters. */
  readonly declaredType: string;
}

/**
 * Replaces fastify's parsers (JSON, text) with one that reads accepted uploads into a Buffer
 * within the size limit, and puts a deadline on the body's arrival: a client that trickles its
 * upload is answered 408 instead of holding a connection and a buffer indefinitely.
 */
export function registerUploadParsers(app: FastifyInstance, limits: ServeLimits): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...RAW_IMAGE_TYPES, MULTIPART_TYPE], { parseAs: 'buffer', bodyLimit: limits.bodyBytes }, (_request, body, done) => done(null, body));
  app.addHook('preParsing', async (_request, reply, payload) => withArrivalDeadline(payload, reply.raw, limits.bodyTimeoutMs));
}

/**
 * The same bytes as `payload`, failing with a 408 ApiError if they have not all arrived within
 * `ms`. The clock stops when the body ends or the response goes out (fastify answers some
 * requests, e.g. 413 by Content-Length, without reading their body).
 */
function withArrivalDeadline(payload: Readable, response: ServerResponse, ms: number): Readable {
  const relay = new PassThrough();
  // With no reader left, a late deadline error must not become an uncaught exception.
  relay.on('error', () => undefined);
  const timer = setTimeout(() => {
    // Stop reading but leave the socket alone: the 408 answer still has to go out on it.
    payload.unpipe(relay);
    relay.destroy(new ApiError(408, 'request_timeout', `the request body did not arrive within ${ms} ms`));
  }, ms);
  timer.unref();
  const stop = (): void => clearTimeout(timer);
  payload.once('end', stop);
  payload.once('close', stop);
  response.once('finish', stop);
  response.once('close', stop);
  payload.once('error', (err) => {
    stop();
    relay.destroy(err);
  });
  payload.pipe(relay);
  return relay;
}

/** The image in a parsed request body: the raw body, or the form's first file part. */
export async function uploadFromBody(body: unknown, contentTypeHeader: string | undefined, limits: ServeLimits): Promise<Upload> {
  const declaredType = mediaType(contentTypeHeader);
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new ApiError(400, 'empty_body', 'the request has no body; send the image as the body or as a multipart/form-data file field');
  }
  if (declaredType !== MULTIPART_TYPE) return { bytes: body, declaredType };
  // A form part's declared type is whatever the browser guessed from the file name: not
  // checked; the bytes are sniffed like any other upload.
  const part = await firstFilePart(body, contentTypeHeader!, limits);
  if (part.bytes.length === 0) throw new ApiError(400, 'empty_body', 'the form\'s file field is empty');
  return part;
}

/** "image/JPEG; charset=x" → "image/jpeg". */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** The first file field of a multipart form already held in memory (any field name). */
function firstFilePart(body: Buffer, contentType: string, limits: ServeLimits): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let form: BusboyInstance;
    try {
      form = Busboy({ headers: { 'content-type': contentType }, limits: { files: 1, parts: 16, fields: 15, fieldSize: 64 * 1024, fileSize: limits.bodyBytes } });
    } catch (err) {
      reject(new ApiError(400, 'bad_request', `malformed multipart/form-data: ${(err as Error).message}`));
      return;
    }
    let file: Promise<Upload> | undefined;
    form.on('file', (_field, stream, _filename, _encoding, mimeType) => {
      if (file) {
        stream.resume();
        return;
      }
      file = new Promise((resolveFile, rejectFile) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', rejectFile);
        stream.on('end', () => resolveFile({ bytes: Buffer.concat(chunks), declaredType: mediaType(mimeType) }));
      });
    });
    form.on('error', (err: unknown) => reject(new ApiError(400, 'bad_request', `malformed multipart/form-data: ${err instanceof Error ? err.message : String(err)}`)));
    form.on('finish', () => {
      if (!file) reject(new ApiError(400, 'missing_file', 'the multipart form has no file field; add the image as a file (e.g. curl -F image=@face.jpg)'));
      else file.then(resolve, reject);
    });
    form.end(body);
  });
}

/**
 * Header checks before decoding: bytes that are no image at all are 422, a format the server
 * does not decode is 415, and an image over the pixel limit is 413 (its size is read from the
 * header, so a decompression bomb is refused without being expanded).
 */
export async function checkImageHeader(bytes: Uint8Array, limits: ServeLimits): Promise<{ format: string; width: number; height: number }> {
  let header;
  try {
    header = await readImageHeader(bytes, { name: 'image' });
  } catch (err) {
    if (err instanceof InputError) throw new ApiError(422, 'undecodable_image', 'the body is not an image the server can read (no known image header); send JPEG, PNG, WebP, GIF, TIFF or AVIF');
    throw err;
  }
  if (!DECODABLE_FORMATS.has(header.format)) {
    throw new ApiError(415, 'unsupported_media_type', `${header.format} images are not accepted; send JPEG, PNG, WebP, GIF, TIFF or AVIF`);
  }
  const pixels = header.width * header.height;
  if (pixels > limits.maxPixels) {
    throw new ApiError(413, 'image_too_large', `the image is ${header.width}x${header.height} = ${pixels} pixels, above this server's limit of ${limits.maxPixels}; scale it down first`);
  }
  return header;
}
