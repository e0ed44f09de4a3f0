/**
 * Keypoint inference with onnxruntime (CPU) on an ONNX model exported by `fkd export`: one
 * session per model, batched runs, preprocessing into reused float buffers, and optional flip
 * test-time augmentation.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { InputError } from '../data/errors.js';
import { flipPermutation, schemaByName } from '../schema/index.js';
import { inspectOnnx } from './onnx/inspect.js';
import { INPUT_NAME, OUTPUT_NAME, type FkdOnnxInfo } from './onnx/metadata.js';

export interface KeypointModelOptions {
  /** onnxruntime intra-op threads (default: every core). */
  threads?: number;
  /** Faces per session run (default 64); with flip TTA each run holds twice as many images. */
  batchSize?: number;
}

export interface PredictOptions {
  /** Also predict each face mirrored, un-mirror that prediction and average the two. */
  flipTta?: boolean;
  /** Called after each batch with faces done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Pixel value to network input, as the engine computes it: float32(v) / 255. */
const UNIT_PIXEL = Float32Array.from({ length: 256 }, (_, v) => v / 255);

export class KeypointModel {
  /** Float input for up to 2 * batchSize faces (originals, then mirrored copies). */
  private readonly input: Float32Array;
  private readonly flip: readonly number[] | undefined;
  /** Runs are serialised: they share the input buffer. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    readonly info: FkdOnnxInfo,
    private readonly session: ort.InferenceSession,
    readonly batchSize: number,
  ) {
    this.input = new Float32Array(2 * batchSize * info.inputSize * info.inputSize);
    this.flip = flipPermutationOf(info);
  }

  /** Loads an fkd ONNX model; rejects a missing, corrupt or foreign file with an InputError naming it. */
  static async load(onnxPath: string, options: KeypointModelOptions = {}): Promise<KeypointModel> {
    let bytes: Buffer;
    try {
      bytes = await readFile(onnxPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError({ file: onnxPath }, code === 'ENOENT' ? 'no such file' : `cannot read the model (${(err as Error).message})`);
    }
    return KeypointModel.fromBytes(bytes, onnxPath, options);
  }

  /** As `load`, from the file's bytes; `file` names it in errors. */
  static async fromBytes(bytes: Uint8Array, file: string, options: KeypointModelOptions = {}): Promise<KeypointModel> {
    const threads = options.threads ?? availableParallelism();
    const batchSize = options.batchSize ?? 64;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    const info = inspectOnnx(bytes, file);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new InputError({ file }, `onnxruntime cannot load the model: ${(err as Error).message}`);
    }
    if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
      await session.release();
      throw new InputError({ file }, `the graph lacks the input "${INPUT_NAME}" or the output "${OUTPUT_NAME}" that fkd models have`);
    }
    return new KeypointModel(file, info, session, batchSize);
  }

  get pointCount(): number {
    return this.info.pointCount;
  }

  get inputSize(): number {
    return this.info.inputSize;
  }

  /**
   * Keypoints of grey faces (inputSize² pixels each, row-major, face after face), in crop pixels:
   * pointCount * 2 values per face (x0, y0, x1, y1, …).
   */
  predict(faces: Uint8Array, options: PredictOptions = {}): Promise<Float64Array> {
    const pixels = this.inputSize * this.inputSize;
    if (faces.length % pixels !== 0) {
      return Promise.reject(new RangeError(`predict: ${faces.length} pixels is not a whole number of ${this.inputSize}x${this.inputSize} faces`));
    }
    if (options.flipTta && !this.flip) {
      return Promise.reject(new Error(`flip TTA needs the keypoint schema's flip pairs; schema "${this.info.schema}" is unknown to this fkd`));
    }
    const run = this.queue.then(() => this.predictAll(faces, faces.length / pixels, options.flipTta === true, options.onProgress));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async predictAll(faces: Uint8Array, count: number, flipTta: boolean, onProgress?: PredictOptions['onProgress']): Promise<Float64Array> {
    const coords = this.pointCount * 2;
    const result = new Float64Array(count * coords);
    for (let begin = 0; begin < count; begin += this.batchSize) {
      const n = Math.min(this.batchSize, count - begin);
      const images = this.fillInput(faces, begin, n, flipTta);
      const output = await this.run(images);
      this.decode(output, begin, n, flipTta, result);
      onProgress?.(begin + n, count);
    }
    return result;
  }

  /** Writes faces [begin, begin + n) as floats (and, for TTA, their mirror images after them). */
  private fillInput(faces: Uint8Array, begin: number, n: number, flipTta: boolean): number {
    const side = this.inputSize;
    const pixels = side * side;
    const input = this.input;
    for (let i = 0, src = begin * pixels; i < n * pixels; i++, src++) input[i] = UNIT_PIXEL[faces[src]];
    if (!flipTta) return n;
    for (let face = 0; face < n; face++) {
      const src = (begin + face) * pixels;
      const dst = (n + face) * pixels;
      for (let row = 0; row < side; row++) {
        const rowStart = row * side;
        for (let col = 0; col < side; col++) input[dst + rowStart + col] = UNIT_PIXEL[faces[src + rowStart + side - 1 - col]];
      }
    }
    return 2 * n;
  }

  private async run(images: number): Promise<Float32Array> {
    const side = this.inputSize;
    const tensor = new ort.Tensor('float32', this.input.subarray(0, images * side * side), [images, 1, side, side]);
    const outputs = await this.session.run({ [INPUT_NAME]: tensor });
    const output = outputs[OUTPUT_NAME];
    const data = output.data as Float32Array;
    if (output.type !== 'float32' || data.length !== images * this.pointCount * 2) {
      throw new Error(`${this.file}: the model returned ${output.type} [${output.dims.join(', ')}], expected float32 [${images}, ${this.pointCount * 2}]`);
    }
    return data;
  }

  /** Normalised outputs to pixels (metadata "unit-v1"); with TTA, averaged with the un-mirrored second half. */
  private decode(output: Float32Array, begin: number, n: number, flipTta: boolean, result: Float64Array): void {
    const points = this.pointCount;
    const coords = points * 2;
    const half = this.inputSize / 2;
    const centre = (this.inputSize - 1) / 2;
    for (let face = 0; face < n; face++) {
      const out = (begin + face) * coords;
      const own = face * coords;
      if (!flipTta) {
        for (let c = 0; c < coords; c++) result[out + c] = output[own + c] * half + centre;
        continue;
      }
      const mirrored = (n + face) * coords;
      for (let p = 0; p < points; p++) {
        // Point p of the face is point flip[p] of its mirror image, with u → (side − 1) − u.
        const q = this.flip![p];
        const x = output[own + 2 * p] * half + centre;
        const y = output[own + 2 * p + 1] * half + centre;
        const mirroredX = 2 * centre - (output[mirrored + 2 * q] * half + centre);
        const mirroredY = output[mirrored + 2 * q + 1] * half + centre;
        result[out + 2 * p] = (x + mirroredX) / 2;
        result[out + 2 * p + 1] = (y + mirroredY) / 2;
      }
    }
  }

  /** Frees the onnxruntime session. */
  async close(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}

/** The schema's flip permutation, or undefined when this fkd does not know the schema. */
function flipPermutationOf(info: FkdOnnxInfo): number[] | undefined {
  let permutation: number[];
  try {
    permutation = flipPermutation(schemaByName(info.schema));
  } catch {
    return undefined;
  }
  return permutation.length === info.pointCount ? permutation : undefined;
}
