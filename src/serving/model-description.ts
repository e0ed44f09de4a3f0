/**
 * What GET /v1/models says about the loaded model, and what the page needs to run the same
 * model in the browser: the points' names and drawing colours, the network's input size and
 * output normalisation (from the ONNX file's fkd metadata), and where to download the files.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../data/errors.js';
import { BLAZEFACE_MODELS, type BlazeFaceVariant } from '../inference/detector/blazeface-model.js';
import { inspectOnnx } from '../inference/onnx/inspect.js';
import { schemaByName } from '../schema/index.js';
import type { DetectorDescription, ModelDescription } from './api-types.js';
import type { ServedModel } from './pipeline-port.js';

/** URL paths of the model files the page downloads for in-browser inference. */
export const KEYPOINT_MODEL_URL = '/assets/models/keypoints.onnx';
export const detectorModelUrl = (variant: BlazeFaceVariant): string => `/assets/models/blazeface-${variant}.onnx`;

export async function describeModel(model: ServedModel, inference: ModelDescription['inference']): Promise<ModelDescription> {
  const description: ModelDescription = { name: model.name, version: model.version, schema: model.schema, points: [...model.points], inference };
  try {
    description.colours = [...schemaByName(model.schema).colours];
  } catch {
    // A schema this fkd does not know: the page draws every point in one colour.
  }
  try {
    const bytes = await readFile(model.file);
    const info = inspectOnnx(bytes, model.file);
    Object.assign(description, { inputSize: info.inputSize, normalization: info.normalization, bytes: bytes.length, url: KEYPOINT_MODEL_URL });
  } catch (err) {
    // Not downloadable as an fkd ONNX model: the page offers server inference only.
    if (!(err instanceof InputError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (model.card !== undefined) description.card = model.card;
  return description;
}

export function describeDetector(): DetectorDescription {
  const variants = (['back', 'front'] as const).map((name) => ({
    name,
    inputSize: BLAZEFACE_MODELS[name].inputSize,
    scoreThreshold: BLAZEFACE_MODELS[name].defaultScoreThreshold,
    url: detectorModelUrl(name),
  }));
  return { name: 'BlazeFace', variants };
}
