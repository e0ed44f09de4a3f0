import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { FACE_PIXELS } from '../../data/dataset.js';
import { InputError } from '../../data/errors.js';
import { readKaggleTest } from '../../data/kaggle/read.js';
import { readLookupTable, writeSubmission } from '../../data/kaggle/submission.js';
import type { KeypointModel } from '../../inference/keypoint-model.js';
import { KAGGLE15 } from '../../schema/index.js';
import { PACKAGE_ROOT } from '../../util/paths.js';
import { UsageError } from '../../util/usage-error.js';
import { parseIntOption } from '../options.js';
import { progressBar } from '../progress.js';

/** The model `fkd predict` uses without --model (shipped with the package once one is trained). */
export const DEFAULT_MODEL = resolve(PACKAGE_ROOT, 'models', 'default.onnx');

/** Options every input mode shares. */
export interface PredictModelOptions {
  model?: string;
  flipTta?: boolean;
  batchSize: string;
  threads?: string;
}

interface KaggleOptions extends PredictModelOptions {
  kaggle?: string;
  lookup?: string;
  out?: string;
}

/** The --model file (or the bundled default), loaded for onnxruntime with the CLI's threads and batch size. */
export async function loadPredictModel(options: PredictModelOptions): Promise<KeypointModel> {
  const batchSize = parseIntOption('--batch-size', options.batchSize, 1, 4096);
  const threads = options.threads === undefined ? availableParallelism() : parseIntOption('--threads', options.threads, 1, 1024);
  if (options.model === undefined && !existsSync(DEFAULT_MODEL)) {
    throw new UsageError(`no bundled model yet (${DEFAULT_MODEL} is missing): pass --model M.onnx (make one with "fkd export RUN --onnx M.onnx")`);
  }
  // onnxruntime loads only for the commands that run a model.
  const { KeypointModel } = await import('../../inference/keypoint-model.js');
  return KeypointModel.load(options.model ?? DEFAULT_MODEL, { threads, batchSize });
}

/** Kaggle mode: test.csv faces in, a RowId,Location submission out (only what IdLookupTable asks for). */
async function predictKaggle(testFile: string, options: KaggleOptions): Promise<void> {
  if (!options.lookup || !options.out) throw new UsageError('--kaggle needs --lookup IdLookupTable.csv and --out submission.csv');
  const model = await loadPredictModel(options);
  try {
    if (model.info.schema !== KAGGLE15.name || model.pointCount !== KAGGLE15.points.length) {
      throw new InputError({ file: model.file }, `predicts ${model.pointCount} ${model.info.schema} keypoints; a Kaggle submission needs the 15 ${KAGGLE15.name} keypoints`);
    }
    const lookup = await readLookupTable(options.lookup);
    const test = await readKaggleTest(testFile);
    const rowOf = new Map<number, number>();
    test.imageIds.forEach((id, row) => rowOf.set(id, row));
    const missing = lookup.find((row) => !rowOf.has(row.imageId));
    if (missing) throw new InputError({ file: options.lookup }, `RowId ${missing.rowId} asks for ImageId ${missing.imageId}, which ${testFile} does not have`);

    const bar = progressBar('faces');
    const started = performance.now();
    let keypoints: Float64Array;
    try {
      keypoints = await model.predict(test.images.subarray(0, test.size * FACE_PIXELS), { flipTta: options.flipTta, onProgress: (done, total) => bar.update(done, total) });
    } finally {
      bar.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const coords = model.pointCount * 2;
    const predictions = new Map<number, Float64Array>();
    for (const [id, row] of rowOf) predictions.set(id, keypoints.subarray(row * coords, (row + 1) * coords));
    await writeSubmission(options.out, lookup, predictions);
    process.stdout.write(
      `wrote ${options.out}: ${lookup.length} rows for ${test.size} faces (${model.info.modelName || model.file}${options.flipTta ? ', flip TTA' : ''}; ${Math.round(test.size / seconds)} faces/s)\n`,
    );
  } finally {
    await model.close();
  }
}

export function registerPredictCommands(program: Command): void {
  program
    .command('predict')
    .description('Predict keypoints with an ONNX model (fkd export): Kaggle test.csv faces to a submission')
    .argument('[files...]', 'photos to predict (not yet supported: use --kaggle)')
    .option('--kaggle <test.csv>', "Kaggle test.csv layout (ImageId,Image) of 96x96 faces")
    .option('--lookup <IdLookupTable.csv>', 'with --kaggle: which keypoints of which image the submission holds')
    .option('--out <file>', 'with --kaggle: the submission CSV to write (RowId,Location)')
    .option('--model <file.onnx>', `ONNX model from "fkd export" (default: the bundled models/default.onnx)`)
    .option('--flip-tta', 'also predict each face mirrored and average (test-time augmentation)')
    .option('--batch-size <n>', 'faces per onnxruntime run', '64')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: every core)')
    .action(async (files: string[], options: KaggleOptions) => {
      if (options.kaggle !== undefined) {
        if (files.length > 0) throw new UsageError('give either photo files or --kaggle test.csv, not both');
        await predictKaggle(options.kaggle, options);
        return;
      }
      if (files.length > 0) throw new UsageError('predicting photos is not supported yet; for 96x96 faces in a Kaggle test.csv use --kaggle');
      throw new UsageError('nothing to predict: give --kaggle test.csv --lookup IdLookupTable.csv --out submission.csv');
    });
}
