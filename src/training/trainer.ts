import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../data/errors.js';
import { FACE_SIZE, selectRows, type KeypointSet } from '../data/dataset.js';
import { flipPermutation, schemaByName } from '../schema/index.js';
import { nativeEngine, setEngineThreads, type NativeDataset } from '../engine/native.js';
import { readModelFile, writeModelFile, type ModelFileContents, type ModelMetadata } from '../models/file.js';
import { TorchModel } from '../models/torch-model.js';
import type { ModelSpec } from '../models/spec.js';
import { UsageError } from '../util/usage-error.js';
import type { TrainConfig } from './config.js';
import { afterEpoch, initialScheduleState, initialStoppingState, learningRateAt, trackBest, type ScheduleState, type StoppingState } from './schedule.js';
import { maskedRmse, type EpochMetrics } from './metrics.js';
import { RunDirectory } from './run-directory.js';

/** Everything a resumed run needs besides weights and optimiser state; stored in checkpoints. */
export interface TrainerState {
  epochsDone: number;
  /**
   * The random state. Every random stream of epoch e (shuffling, augmentation, dropout) is seeded
   * from (seed, e), so the seed and the next epoch number are the complete RNG state.
   */
  rng: { scheme: 'per-epoch-v1'; seed: number; nextEpoch: number };
  schedule: ScheduleState;
  stopping: StoppingState;
  earlyStopped: boolean;
  history: EpochMetrics[];
  data: { trainFaces: number; devFaces: number };
}

export interface TrainData {
  train: KeypointSet;
  dev: KeypointSet;
}

export interface TrainEvents {
  onStart?(info: { startEpoch: number; epochs: number; trainFaces: number; devFaces: number; batchesPerEpoch: number; parameters: number }): void;
  onBatch?(info: { epoch: number; batch: number; batches: number; loss: number }): void;
  onEpoch?(metrics: EpochMetrics, info: { best: boolean }): void;
}

export interface TrainResult {
  state: TrainerState;
  model: TorchModel;
  runDir: string;
}

/** Seeded split of one set into train and dev (when the config names no dev file). */
export function splitForDev(set: KeypointSet, fraction: number, seed: number): TrainData {
  const order = Array.from({ length: set.size }, (_, i) => i);
  let s = (seed ^ 0x9e3779b9) >>> 0;
  const random = (): number => {
    // mulberry32: small, seeded, identical everywhere
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const devCount = Math.round(set.size * fraction);
  return { dev: selectRows(set, order.slice(0, devCount)), train: selectRows(set, order.slice(devCount)) };
}

function toNativeDataset(set: KeypointSet): NativeDataset {
  return new (nativeEngine().NativeDataset)(set.images, Float32Array.from(set.keypoints), set.size, set.pointCount, FACE_SIZE);
}

function initialState(config: TrainConfig, data: TrainData): TrainerState {
  return {
    epochsDone: 0,
    rng: { scheme: 'per-epoch-v1', seed: config.seed, nextEpoch: 0 },
    schedule: initialScheduleState(),
    stopping: initialStoppingState(),
    earlyStopped: false,
    history: [],
    data: { trainFaces: data.train.size, devFaces: data.dev.size },
  };
}

function checkpointContents(model: TorchModel, state: TrainerState): ModelFileContents {
  return { ...model.contents('checkpoint'), blobs: { optimizer: model.native.getOptimizerState() }, training: state };
}

/**
 * Trains per the config into `runDir`. With `resume`, continues from the run's last checkpoint
 * and ends with the same weights as an uninterrupted run.
 */
export async function trainRun(config: TrainConfig, spec: ModelSpec, data: TrainData, runDir: string, options: { resume?: boolean; events?: TrainEvents } = {}): Promise<TrainResult> {
  const events = options.events ?? {};
  const schema = schemaByName(config.schema);
  for (const [label, set] of Object.entries(data)) {
    if (set.pointCount !== schema.points.length) {
      throw new InputError({ file: label === 'train' ? config.data.train : (config.data.dev ?? config.data.train) }, `has ${set.pointCount} keypoints per face but schema ${schema.name} has ${schema.points.length}`);
    }
  }
  if (data.train.size < 2) throw new InputError({ file: config.data.train }, `needs at least 2 faces to train on, has ${data.train.size}`);
  if (data.dev.size < 1) throw new InputError({ file: config.data.dev ?? config.data.train }, 'the dev set is empty (set data.dev or data.devFraction)');
  if (spec.outputs !== schema.points.length * 2) {
    throw new UsageError(`model "${spec.name ?? 'spec'}" predicts ${spec.outputs} values but schema ${schema.name} needs ${schema.points.length * 2}`);
  }
  setEngineThreads(config.threads);

  const run = new RunDirectory(runDir);
  const metadata: ModelMetadata = {
    schema: schema.name,
    pointCount: schema.points.length,
    normalization: 'unit-v1',
    libtorch: nativeEngine().libtorchVersion(),
    run: config.name,
  };
  const modelOptions = { seed: config.seed, device: config.device, channelsLast: config.channelsLast };
  let model: TorchModel;
  let state: TrainerState;
  const checkpoint = options.resume && existsSync(run.lastCheckpoint) ? await readModelFile(run.lastCheckpoint) : undefined;
  if (checkpoint) {
    if (checkpoint.kind !== 'checkpoint' || !checkpoint.blobs.optimizer || !checkpoint.training) {
      throw new InputError({ file: run.lastCheckpoint }, 'is a model file, not a training checkpoint (no optimiser or trainer state)');
    }
    model = TorchModel.fromContents(checkpoint, run.lastCheckpoint, modelOptions);
    model.native.setOptimizer(config.optimizer);
    try {
      model.native.setOptimizerState(checkpoint.blobs.optimizer);
    } catch (err) {
      throw new InputError({ file: run.lastCheckpoint }, `optimiser state does not fit the model: ${(err as Error).message}`);
    }
    state = checkpoint.training as TrainerState;
    if (state.data.trainFaces !== data.train.size || state.data.devFaces !== data.dev.size) {
      throw new InputError({ file: run.lastCheckpoint }, `was trained on ${state.data.trainFaces}/${state.data.devFaces} train/dev faces, the data now has ${data.train.size}/${data.dev.size}`);
    }
  } else {
    model = TorchModel.create(spec, metadata, modelOptions);
    model.native.setOptimizer(config.optimizer);
    state = initialState(config, data);
  }
  await run.writeConfig(config);

  const trainSet = toNativeDataset(data.train);
  const flip = flipPermutation(schema);
  const batchesPerEpoch = Math.ceil((data.train.size % config.batchSize === 1 ? data.train.size - 1 : data.train.size) / config.batchSize);
  events.onStart?.({ startEpoch: state.epochsDone, epochs: config.epochs, trainFaces: data.train.size, devFaces: data.dev.size, batchesPerEpoch, parameters: model.native.parameterCount() });

  for (let epoch = state.epochsDone; epoch < config.epochs && !state.earlyStopped; epoch++) {
    const learningRate = learningRateAt(config.schedule, config.optimizer.learningRate, epoch, config.epochs, state.schedule);
    model.native.setLearningRate(learningRate);
    const result = await model.native.trainEpoch(
      trainSet,
      { epoch, batchSize: config.batchSize, gradClipNorm: config.gradClipNorm, augment: { ...config.augment, flipPermutation: flip } },
      (batch, batches, loss) => events.onBatch?.({ epoch, batch, batches, loss }),
    );
    const devPredictions = await model.predict(data.dev.images, data.dev.size, config.evalBatchSize);
    const devRmse = maskedRmse(devPredictions, data.dev.keypoints).rmse;
    const metrics: EpochMetrics = {
      epoch: epoch + 1,
      learningRate,
      trainRmse: Math.sqrt(result.sumSquaredError / Math.max(1, result.coordinates)),
      devRmse,
      seconds: result.seconds,
      imagesPerSecond: result.images / result.seconds,
    };
    const tracked = trackBest(state.stopping, devRmse, epoch + 1, config.earlyStopping?.minDelta ?? 0);
    state = {
      ...state,
      epochsDone: epoch + 1,
      rng: { ...state.rng, nextEpoch: epoch + 1 },
      schedule: afterEpoch(config.schedule, state.schedule, devRmse),
      stopping: tracked.state,
      earlyStopped: config.earlyStopping !== null && tracked.state.badEpochs >= config.earlyStopping.patience,
      history: [...state.history, metrics],
    };
    // Best first, then last: a kill between the two only repeats this epoch on resume.
    if (tracked.improved) await writeModelFile(run.bestModel, model.contents('model'));
    await writeModelFile(run.lastCheckpoint, checkpointContents(model, state));
    await run.writeMetrics(state.history, config.name);
    events.onEpoch?.(metrics, { best: tracked.improved });
  }
  return { state, model, runDir };
}
