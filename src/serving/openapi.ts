/** The API's OpenAPI 3.1 document, written as data (served at /openapi.json). */
import { DECODABLE_FORMATS, MULTIPART_TYPE, RAW_IMAGE_TYPES } from './image-upload.js';
import type { ServeLimits } from './limits.js';

const number = { type: 'number' } as const;
const string = { type: 'string' } as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: ref('Error') } } };
}

const schemas = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: {
            type: 'string',
            enum: ['bad_request', 'empty_body', 'missing_file', 'body_too_large', 'image_too_large', 'unsupported_media_type', 'undecodable_image', 'request_timeout', 'not_found', 'method_not_allowed', 'overloaded', 'shutting_down', 'internal'],
          },
          message: string,
        },
      },
    },
  },
  Keypoint: { type: 'object', required: ['name', 'x', 'y'], properties: { name: string, x: number, y: number }, description: 'Image pixels, 0-based, pixel centres at integers.' },
  Face: {
    type: 'object',
    required: ['box', 'score', 'cropBox', 'keypoints'],
    properties: {
      box: { type: 'object', required: ['x', 'y', 'width', 'height'], properties: { x: number, y: number, width: number, height: number }, description: "The face detector's box (top-left corner and size), image pixels." },
      score: { type: 'number', minimum: 0, maximum: 1, description: "The detector's confidence." },
      cropBox: { type: 'object', required: ['cx', 'cy', 's'], properties: { cx: number, cy: number, s: number }, description: 'The square the keypoint model saw: centre and side, image pixels.' },
      keypoints: { type: 'array', items: ref('Keypoint') },
    },
  },
  KeypointsResponse: {
    type: 'object',
    required: ['model', 'width', 'height', 'faces', 'timings'],
    properties: {
      model: { type: 'object', required: ['name', 'version', 'schema'], properties: { name: string, version: string, schema: string } },
      width: { type: 'integer', description: 'As displayed (after EXIF orientation).' },
      height: { type: 'integer' },
      faces: { type: 'array', items: ref('Face'), description: 'Best detector score first; empty when no face was found.' },
      timings: {
        type: 'object',
        required: ['decodeMs', 'detectMs', 'keypointsMs', 'totalMs', 'queueMs', 'requestMs'],
        properties: { decodeMs: number, detectMs: number, keypointsMs: number, totalMs: number, queueMs: { ...number, description: 'Waiting for a free pipeline slot.' }, requestMs: { ...number, description: 'From the request reaching the server to the answer.' } },
      },
    },
  },
  Model: {
    type: 'object',
    required: ['name', 'version', 'schema', 'points', 'inference'],
    properties: {
      name: string,
      version: string,
      schema: string,
      points: { type: 'array', items: string },
      colours: { type: 'array', items: string },
      inputSize: { type: 'integer' },
      normalization: string,
      bytes: { type: 'integer' },
      url: { type: 'string', description: 'Download of the ONNX file, for in-browser inference.' },
      inference: { type: 'object', required: ['flipTta', 'minScore'], properties: { flipTta: { type: 'boolean' }, minScore: number } },
      card: { description: 'The model card, when the model has one.' },
    },
  },
  ModelsResponse: {
    type: 'object',
    required: ['models', 'detector'],
    properties: {
      models: { type: 'array', items: ref('Model') },
      detector: {
        type: 'object',
        properties: {
          name: string,
          variants: { type: 'array', items: { type: 'object', properties: { name: string, inputSize: { type: 'integer' }, scoreThreshold: number, url: string } } },
        },
      },
    },
  },
  Health: {
    type: 'object',
    required: ['status', 'model', 'uptimeS', 'running', 'queued'],
    properties: { status: { type: 'string', enum: ['ok'] }, model: string, uptimeS: number, running: { type: 'integer' }, queued: { type: 'integer' }, refused: { type: 'integer' } },
  },
};

export function openApiDocument(limits: ServeLimits, version: string) {
  const binary = { schema: { type: 'string', format: 'binary' } };
  const imageBody = Object.fromEntries(RAW_IMAGE_TYPES.map((type) => [type, binary]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'fkd keypoint API',
      version,
      description: `Facial keypoints for photos. Images are sniffed from their bytes (${[...DECODABLE_FORMATS].join(', ')}); bodies up to ${limits.bodyBytes} bytes, images up to ${limits.maxPixels} pixels.`,
    },
    paths: {
      '/v1/keypoints': {
        post: {
          summary: 'Detect faces and their keypoints in one image',
          requestBody: {
            required: true,
            content: {
              ...imageBody,
              [MULTIPART_TYPE]: { schema: { type: 'object', properties: { image: { type: 'string', format: 'binary' } } }, encoding: { image: { contentType: 'image/*' } } },
            },
          },
          responses: {
            '200': { description: 'Faces found (possibly none)', content: { 'application/json': { schema: ref('KeypointsResponse') } } },
            '400': errorResponse('Empty body, malformed form, or a form without a file'),
            '408': errorResponse('The body did not arrive in time'),
            '413': errorResponse('Body over the size limit, or image over the pixel limit'),
            '415': errorResponse('Content type or image format not accepted'),
            '422': errorResponse('The bytes are not a decodable image (garbage, truncated)'),
            '503': errorResponse('Too many images waiting, or the server is shutting down (see Retry-After)'),
          },
        },
      },
      '/v1/models': {
        get: { summary: 'The loaded keypoint model (with its card) and the face detector', responses: { '200': { description: 'Models', content: { 'application/json': { schema: ref('ModelsResponse') } } } } },
      },
      '/healthz': {
        get: { summary: 'Liveness and load', responses: { '200': { description: 'Serving', content: { 'application/json': { schema: ref('Health') } } }, '503': errorResponse('Shutting down') } },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
    },
    components: { schemas },
  };
}
