import { existsSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../data/errors.js';
import { MODEL_MAGIC } from '../models/file.js';
import { TorchModel } from '../models/torch-model.js';

/** Something that maps 96x96 grey faces to keypoints in crop pixels. */
export interface KeypointPredictor {
  /** Display name (run or file). */
  readonly name: string;
  /** The training run directory, when the predictor came from one. */
  readonly runDir?: string;
  readonly pointCount: number;
  /** Keypoint schema name from the model's metadata (kaggle15, ibug68). */
  readonly schema: string;
  predict(images: Uint8Array, count: number): Promise<ArrayLike<number>>;
}

async function startsWith(file: string, magic: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(magic.length);
    await handle.read(buffer, 0, magic.length, 0);
    return buffer.toString('latin1') === magic;
  } finally {
    await handle.close();
  }
}

/** ONNX models load through the inference module when it is present (imported lazily). */
async function loadOnnx(file: string): Promise<KeypointPredictor> {
  const { KeypointModel } = await import('../inference/keypoint-model.js');
  const model = await KeypointModel.load(file);
  return {
    name: basename(file),
    pointCount: model.pointCount,
    schema: model.info.schema,
    predict: (images: Uint8Array) => model.predict(images),
  };
}

/** A run's name from its config.json (fill rounds are all called round-N on disk), else the folder's. */
async function runName(runDir: string): Promise<string> {
  try {
    const config = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as { name?: unknown };
    if (typeof config.name === 'string' && config.name) return config.name;
  } catch {
    // no readable config: the folder name will do
  }
  return basename(runDir);
}

/**
 * A predictor from a training run directory (its best model), an fkd model file (.fkd) or an
 * ONNX model exported by fkd. The kind is decided from the file's bytes.
 */
export async function loadPredictor(target: string): Promise<KeypointPredictor> {
  if (!existsSync(target)) throw new InputError({ file: target }, 'no such run directory or model file');
  if (statSync(target).isDirectory()) {
    const best = join(target, 'best.fkd');
    if (!existsSync(best)) throw new InputError({ file: target }, 'a run directory needs best.fkd (has the run finished an epoch?)');
    const model = await TorchModel.load(best);
    return { name: await runName(target), runDir: target, pointCount: model.pointCount, schema: model.metadata.schema, predict: (images, count) => model.predict(images, count) };
  }
  if (await startsWith(target, MODEL_MAGIC)) {
    const model = await TorchModel.load(target);
    return { name: basename(target), pointCount: model.pointCount, schema: model.metadata.schema, predict: (images, count) => model.predict(images, count) };
  }
  return loadOnnx(target);
}
