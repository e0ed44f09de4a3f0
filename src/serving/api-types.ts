/**
 * The JSON bodies the API answers with. Types only (no imports), so that the web page's code
 * can share them with the server.
 */

export interface ApiKeypoint {
  name: string;
  /** Image pixels, 0-based, pixel centres at integers. */
  x: number;
  y: number;
}

export interface ApiFace {
  /** The detector's box, image pixels. */
  box: { x: number; y: number; width: number; height: number };
  score: number;
  /** The square the keypoint model saw: centre and side, image pixels. */
  cropBox: { cx: number; cy: number; s: number };
  keypoints: ApiKeypoint[];
}

export interface PhotoTimings {
  decodeMs: number;
  detectMs: number;
  keypointsMs: number;
  totalMs: number;
}

/** POST /v1/keypoints. The same shape as `fkd predict --json` (plus timings). */
export interface KeypointsResponse {
  model: { name: string; version: string; schema: string };
  /** The image's size as displayed (after EXIF orientation). */
  width: number;
  height: number;
  /** Best detector score first; empty when no face was found. */
  faces: ApiFace[];
  timings: PhotoTimings & { queueMs: number; requestMs: number };
}

export interface ModelDescription {
  name: string;
  version: string;
  schema: string;
  points: string[];
  /** One CSS colour per point, when fkd knows the schema. */
  colours?: string[];
  /** Side of the square grey crop the network takes. */
  inputSize?: number;
  /** How the network's outputs map to crop pixels ("unit-v1": x · size/2 + (size − 1)/2). */
  normalization?: string;
  bytes?: number;
  /** Where the browser downloads the ONNX file; absent when the file is not an fkd ONNX model. */
  url?: string;
  /** How the server runs it (the page's in-browser inference does the same). */
  inference: { flipTta: boolean; minScore: number };
  card?: unknown;
}

export interface DetectorDescription {
  name: 'BlazeFace';
  variants: { name: 'back' | 'front'; inputSize: number; scoreThreshold: number; url: string }[];
}

/** GET /v1/models. */
export interface ModelsResponse {
  models: ModelDescription[];
  detector: DetectorDescription;
}

/** GET /healthz. */
export interface HealthResponse {
  status: 'ok';
  model: string;
  uptimeS: number;
  running: number;
  queued: number;
  refused: number;
}

/** Every error. */
export interface ApiErrorResponse {
  error: { code: string; message: string };
}
