import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { FACE_PIXELS } from '../../data/dataset.js';
import { InputError } from '../../data/errors.js';
import { readImageHeader } from '../../data/image.js';
import { readKaggleTest } from '../../data/kaggle/read.js';
import { readLookupTable, writeSubmission } from '../../data/kaggle/submission.js';
import type { KeypointModel } from '../../inference/keypoint-model.js';
import type { KeypointPipeline } from '../../inference/pipeline.js';
import { DEFAULT_MODEL_FILE, type PipelineModelInfo } from '../../inference/photo/model-info.js';
import { photoJson } from '../../inference/photo/photo-json.js';
import { KAGGLE15, schemaByName } from '../../schema/index.js';
import { annotatePhoto } from '../../viz/annotate.js';
import { UsageError } from '../../util/usage-error.js';
import { parseIntOption } from '../options.js';
import { progressBar } from '../progress.js';

/** The model `fkd predict` uses without --model (shipped with the package once one is trained). */
export const DEFAULT_MODEL = DEFAULT_MODEL_FILE;

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

interface PhotoOptions extends PredictModelOptions {
  out?: string;
  json?: boolean;
  maxPixels?: string;
}

interface PredictOptions extends KaggleOptions, PhotoOptions {}

/** UsageError when no --model is given and the bundled default is missing. */
function requireModelFile(options: Pick<PredictModelOptions, 'model'>): void {
  if (options.model === undefined && !existsSync(DEFAULT_MODEL)) {
    throw new UsageError(`no bundled model yet (${DEFAULT_MODEL} is missing): pass --model M.onnx (make one with "fkd export RUN --onnx M.onnx")`);
  }
}

/** The --model file (or the bundled default), loaded for onnxruntime with the CLI's threads and batch size. */
export async function loadPredictModel(options: PredictModelOptions): Promise<KeypointModel> {
  const batchSize = parseIntOption('--batch-size', options.batchSize, 1, 4096);
  const threads = options.threads === undefined ? availableParallelism() : parseIntOption('--threads', options.threads, 1, 1024);
  requireModelFile(options);
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

/** Output files of one photo: `<stem>.keypoints.json` and `<stem>.annotated.jpg` in the --out folder. */
function photoOutputs(file: string, outDir: string): { json: string; image: string } {
  const stem = basename(file, extname(file));
  return { json: join(outDir, `${stem}.keypoints.json`), image: join(outDir, `${stem}.annotated.jpg`) };
}

/** Two photos whose outputs would overwrite each other (same stem in different folders or formats). */
function checkDistinctOutputs(files: readonly string[], outDir: string): void {
  const seen = new Map<string, string>();
  for (const file of files) {
    const { json } = photoOutputs(file, outDir);
    const earlier = seen.get(json);
    if (earlier !== undefined) throw new UsageError(`${earlier} and ${file} would both write ${json}: give photos with different names`);
    seen.set(json, file);
  }
}

/** Colour per keypoint name, from the model's schema when fkd knows it. */
function schemaColours(model: PipelineModelInfo): Record<string, string> {
  try {
    const schema = schemaByName(model.schema);
    return Object.fromEntries(schema.points.map((name, i) => [name, schema.colours[i]]));
  } catch {
    return {};
  }
}

/** Files written under temporary names and renamed onto their own only once every photo succeeded. */
class StagedOutputs {
  private readonly staged: { temp: string; final: string }[] = [];

  async write(final: string, data: string | Uint8Array): Promise<void> {
    const temp = join(dirname(final), `.${basename(final)}.${process.pid}.tmp`);
    this.staged.push({ temp, final });
    await writeFile(temp, data);
  }

  async commit(): Promise<void> {
    for (const { temp, final } of this.staged) await rename(temp, final);
    this.staged.length = 0;
  }

  async discard(): Promise<void> {
    await Promise.all(this.staged.map(({ temp }) => rm(temp, { force: true })));
    this.staged.length = 0;
  }
}

/**
 * Photo mode: per photo a JSON file and an annotated image in --out. Every photo is checked
 * from its header (readable image, within the pixel limit) before the model loads. Outputs are
 * staged and put in place only when every photo succeeded: an error leaves no output of this run
 * (and earlier runs' files as they were), and prints no JSON.
 */
async function predictPhotos(files: string[], options: PhotoOptions): Promise<void> {
  if (!options.out) throw new UsageError('photos need --out DIR: the folder for each photo\'s .keypoints.json and .annotated.jpg');
  const outDir = options.out;
  const threads = options.threads === undefined ? availableParallelism() : parseIntOption('--threads', options.threads, 1, 1024);
  const { PHOTO_MAX_PIXELS, KeypointPipeline } = await import('../../inference/pipeline.js');
  const maxPixels = options.maxPixels === undefined ? PHOTO_MAX_PIXELS : parseIntOption('--max-pixels', options.maxPixels, 1);
  checkDistinctOutputs(files, outDir);
  for (const file of files) {
    const header = await readImageHeader(file);
    if (header.width * header.height > maxPixels) {
      throw new InputError({ file }, `image is ${header.width}x${header.height} = ${header.width * header.height} pixels, above the limit of ${maxPixels} (--max-pixels)`);
    }
  }
  requireModelFile(options);
  const pipeline = await KeypointPipeline.load({ model: options.model ?? DEFAULT_MODEL, threads, flipTta: options.flipTta, maxPixels });
  const createdOutDir = !existsSync(outDir);
  const staged = new StagedOutputs();
  const jsonLines: string[] = [];
  const messages: string[] = [];
  try {
    await mkdir(outDir, { recursive: true });
    for (const file of files) {
      const done = await predictPhoto(pipeline, file, outDir, staged);
      jsonLines.push(JSON.stringify(done.document));
      messages.push(`${file}: ${done.faces} face${done.faces === 1 ? '' : 's'} -> ${done.json}, ${done.image} (${Math.round(done.ms)} ms)`);
    }
    await staged.commit();
  } catch (err) {
    await staged.discard();
    if (createdOutDir) await rmdir(outDir).catch(() => undefined);
    throw err;
  } finally {
    await pipeline.close();
  }
  if (options.json) process.stdout.write(jsonLines.map((line) => `${line}\n`).join(''));
  (options.json ? process.stderr : process.stdout).write(messages.map((line) => `${line}\n`).join(''));
}

/** One photo's JSON and annotated image, staged under temporary names. */
async function predictPhoto(pipeline: KeypointPipeline, file: string, outDir: string, staged: StagedOutputs) {
  const result = await pipeline.detect(file);
  const document = photoJson(file, result, pipeline.model);
  const annotated = await annotatePhoto(file, result, { colours: schemaColours(pipeline.model) });
  const { json, image } = photoOutputs(file, outDir);
  await staged.write(json, `${JSON.stringify(document, null, 2)}\n`);
  await staged.write(image, annotated);
  return { document, json, image, faces: result.faces.length, ms: result.timings.totalMs };
}

export function registerPredictCommands(program: Command): void {
  program
    .command('predict')
    .description('Predict keypoints with an ONNX model (fkd export): photos to JSON and annotated images, or Kaggle test.csv faces to a submission')
    .argument('[photos...]', 'photos (JPEG, PNG, WebP, …): faces found, keypoints predicted in photo pixels')
    .option('--out <path>', 'photos: the output folder; with --kaggle: the submission CSV to write (RowId,Location)')
    .option('--json', 'photos: also print each photo\'s JSON to stdout (one line per photo; messages go to stderr)')
    .option('--max-pixels <n>', 'photos: refuse images with more pixels than this (checked from the header, before decoding; default 40000000)')
    .option('--kaggle <test.csv>', "Kaggle test.csv layout (ImageId,Image) of 96x96 faces")
    .option('--lookup <IdLookupTable.csv>', 'with --kaggle: which keypoints of which image the submission holds')
    .option('--model <file.onnx>', `ONNX model from "fkd export" (default: the bundled models/default.onnx)`)
    .option('--flip-tta', 'also predict each face mirrored and average (test-time augmentation)')
    .option('--batch-size <n>', 'with --kaggle: faces per onnxruntime run', '64')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: every core)')
    .action(async (files: string[], options: PredictOptions) => {
      if (options.kaggle !== undefined) {
        if (files.length > 0) throw new UsageError('give either photo files or --kaggle test.csv, not both');
        await predictKaggle(options.kaggle, options);
        return;
      }
      if (files.length > 0) {
        await predictPhotos(files, options);
        return;
      }
      throw new UsageError('nothing to predict: give photos and --out DIR, or --kaggle test.csv --lookup IdLookupTable.csv --out submission.csv');
    });
}
