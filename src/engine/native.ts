import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../util/paths.js';

/** Options of one training epoch, as the native engine takes them. */
export interface NativeEpochOptions {
  /** Epoch number: selects the epoch's random streams (shuffling, augmentation, dropout). */
  epoch: number;
  batchSize: number;
  shuffle?: boolean;
  /** Clip the gradients' global L2 norm to this (0 = off). */
  gradClipNorm?: number;
  augment?: NativeAugmentOptions;
}

export interface NativeAugmentOptions {
  flip?: boolean;
  /** Output point i takes the mirrored input point flipPermutation[i]. */
  flipPermutation?: number[];
  rotation?: number;
  scale?: number;
  shift?: number;
  brightness?: number;
  contrast?: number;
}

export interface NativeEpochResult {
  /** Sum of squared errors over the present coordinates, in pixels². */
  sumSquaredError: number;
  coordinates: number;
  batches: number;
  images: number;
  seconds: number;
}

export interface NativeOptimizerOptions {
  type: 'adam' | 'adamw' | 'sgd';
  learningRate: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** A parameter or buffer: raw little-endian bytes, row-major. */
export interface NativeTensor {
  name: string;
  dtype: 'float32' | 'int64';
  shape: number[];
  data: Uint8Array;
}

export interface NativeDataset {
  readonly size: number;
  readonly pointCount: number;
}

export interface NativeModel {
  parameterCount(): number;
  setOptimizer(options: NativeOptimizerOptions): void;
  setLearningRate(learningRate: number): void;
  trainEpoch(
    data: NativeDataset,
    options: NativeEpochOptions,
    onBatch?: (batch: number, batches: number, loss: number) => void,
  ): Promise<NativeEpochResult>;
  /** Keypoints in pixel coordinates, count * outputs values. */
  predict(images: Uint8Array, count: number, side: number, batchSize: number): Promise<Float32Array>;
  getState(): NativeTensor[];
  setState(tensors: NativeTensor[]): void;
  getOptimizerState(): Uint8Array;
  setOptimizerState(bytes: Uint8Array): void;
}

export interface NativeModelOptions {
  seed?: number;
  device?: string;
  channelsLast?: boolean;
}

export interface NativeBinding {
  NativeDataset: new (images: Uint8Array, keypoints: Float32Array, size: number, pointCount: number, side: number) => NativeDataset;
  NativeModel: new (spec: { inputSize: number; outputs: number; layers: unknown[] }, options?: NativeModelOptions) => NativeModel;
  maskedMseGradient(predictions: Float64Array, targets: Float64Array, rows: number): { loss: number; gradient: Float64Array };
  augmentFaces(
    images: Uint8Array,
    keypoints: Float32Array,
    count: number,
    pointCount: number,
    side: number,
    options: NativeAugmentOptions,
    seed: number,
  ): { images: Float32Array; keypoints: Float32Array };
  setThreadCount(threads: number): void;
  threadCount(): number;
  libtorchVersion(): string;
  cudaAvailable(): boolean;
}

export const NATIVE_ADDON_PATH = join(PACKAGE_ROOT, 'build', 'Release', 'fkd_native.node');

let binding: NativeBinding | undefined;

/** The compiled libtorch addon, loaded on first use (so that commands without it still run). */
export function nativeEngine(): NativeBinding {
  if (binding) return binding;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    throw new Error(`the native training engine is not built (${NATIVE_ADDON_PATH} missing); run "npm install" or "npx node-gyp rebuild"`);
  }
  binding = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeBinding;
  return binding;
}

/** Intra-op threads for all engine work; 0 = all cores. */
export function setEngineThreads(threads: number): void {
  nativeEngine().setThreadCount(threads);
}
