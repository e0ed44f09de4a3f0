/**
 * bench:infer part (a): per-face keypoint inference through KeypointModel against a bare
 * onnxruntime session on the same model file, the same session options and the same input
 * tensors (built once, before timing: the bare side does nothing but session.run). The
 * difference is what KeypointModel adds: bytes → floats, output → pixels, the run queue.
 * Runs alternate (ours, bare, ours, bare, …) so that background load hits both alike.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { KeypointModel } from '../src/inference/keypoint-model.js';
import { INPUT_NAME } from '../src/inference/onnx/metadata.js';

export interface KeypointBenchResult {
  faces_per_s: number;
  ort_faces_per_s: number;
  overhead_pct: number;
  latency_ms: number;
  ort_latency_ms: number;
  latency_overhead_pct: number;
}

export interface KeypointBenchOptions {
  modelFile: string;
  /** Grey 96x96 faces, face after face. */
  faces: Uint8Array;
  threads: number;
  batchSize: number;
  /** Timed passes over all faces, per side. */
  repeats: number;
  /** Timed single-face runs, per side. */
  latencyRuns: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The input KeypointModel builds (pixel / 255, NCHW), one tensor per batch. */
function inputTensors(faces: Uint8Array, side: number, batchSize: number): ort.Tensor[] {
  const pixels = side * side;
  const count = faces.length / pixels;
  const tensors: ort.Tensor[] = [];
  for (let begin = 0; begin < count; begin += batchSize) {
    const n = Math.min(batchSize, count - begin);
    const data = new Float32Array(n * pixels);
    for (let i = 0; i < data.length; i++) data[i] = faces[begin * pixels + i] / 255;
    tensors.push(new ort.Tensor('float32', data, [n, 1, side, side]));
  }
  return tensors;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

export async function benchKeypoints(options: KeypointBenchOptions): Promise<KeypointBenchResult> {
  const { modelFile, faces, threads, batchSize } = options;
  const model = await KeypointModel.load(modelFile, { threads, batchSize });
  // KeypointModel's session options, verbatim.
  const bare = await ort.InferenceSession.create(await readFile(modelFile), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  try {
    const side = model.inputSize;
    const pixels = side * side;
    const count = faces.length / pixels;
    const batches = inputTensors(faces, side, batchSize);
    const oneFace = faces.subarray(0, pixels);
    const [oneTensor] = inputTensors(oneFace, side, 1);
    const runBare = async (tensors: ort.Tensor[]): Promise<void> => {
      for (const tensor of tensors) await bare.run({ [INPUT_NAME]: tensor });
    };

    // Warm-up: first runs allocate arenas and pick kernels.
    await model.predict(faces.subarray(0, Math.min(count, batchSize) * pixels));
    await runBare(batches.slice(0, 1));
    await model.predict(oneFace);
    await runBare([oneTensor]);

    const ours: number[] = [];
    const bareTimes: number[] = [];
    for (let r = 0; r < options.repeats; r++) {
      ours.push(await timed(() => model.predict(faces)));
      bareTimes.push(await timed(() => runBare(batches)));
    }
    const oursLatency: number[] = [];
    const bareLatency: number[] = [];
    for (let r = 0; r < options.latencyRuns; r++) {
      oursLatency.push(await timed(() => model.predict(oneFace)));
      bareLatency.push(await timed(() => runBare([oneTensor])));
    }
    const oursMs = median(ours);
    const bareMs = median(bareTimes);
    const latency = median(oursLatency);
    const ortLatency = median(bareLatency);
    return {
      faces_per_s: (count / oursMs) * 1000,
      ort_faces_per_s: (count / bareMs) * 1000,
      overhead_pct: (oursMs / bareMs - 1) * 100,
      latency_ms: latency,
      ort_latency_ms: ortLatency,
      latency_overhead_pct: (latency / ortLatency - 1) * 100,
    };
  } finally {
    await model.close();
    await bare.release();
  }
}
