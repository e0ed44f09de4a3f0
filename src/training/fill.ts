import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FACE_PIXELS, completeRows, selectRows, type ImageSet, type KeypointSet } from '../data/dataset.js';
import { InputError } from '../data/errors.js';
import { writeKaggleTraining } from '../data/kaggle/write.js';
import { TorchModel } from '../models/torch-model.js';
import type { ModelSpec } from '../models/spec.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { TrainConfig } from './config.js';
import type { TrainData, TrainResult } from './trainer.js';

/**
 * Semi-supervised filling of missing keypoints, the seed's key idea: train on the fully
 * labelled rows, predict the missing keypoints of the other rows (and, optionally, every
 * keypoint of unlabelled faces), retrain on the filled set, and repeat.
 */
export interface FillPlan {
  config: TrainConfig;
  spec: ModelSpec;
  data: TrainData;
  /** Faces without labels to fill entirely and train on too. */
  unlabelled?: ImageSet;
  /** Retraining rounds after the first model (the seed did three). */
  rounds: number;
  /**
   * What round 0 trains on: 'complete' (the seed's way: fully labelled rows only) or 'all'
   * (every row, missing coordinates masked out of the loss, so the sparse rows' own labels count too).
   */
  firstRound?: 'complete' | 'all';
  outDir: string;
}

/** One round's training, done by the caller (so that progress and the registry stay in the CLI). */
export type RoundTrainer = (round: number, config: TrainConfig, data: TrainData, runDir: string, resume: boolean) => Promise<TrainResult>;

export interface FillRoundSummary {
  round: number;
  runDir: string;
  trainFaces: number;
  /** Coordinates whose value was predicted, in this round's training data. */
  predictedCoordinates: number;
  filledFile?: string;
  bestDevRmse: number;
}

export const roundDir = (outDir: string, round: number): string => join(outDir, `round-${round}`);
const doneMarker = (outDir: string, round: number): string => join(roundDir(outDir, round), 'round.json');

/**
 * The training set with every missing coordinate replaced by the model's prediction and
 * flagged as predicted; unlabelled faces are appended with all coordinates predicted.
 * Labels a person gave are never overwritten.
 */
export function fillMissing(train: KeypointSet, trainPredictions: ArrayLike<number>, unlabelled?: ImageSet, unlabelledPredictions?: ArrayLike<number>): KeypointSet {
  const stride = train.pointCount * 2;
  const extra = unlabelled?.size ?? 0;
  const size = train.size + extra;
  const images = new Uint8Array(size * FACE_PIXELS);
  images.set(train.images);
  const keypoints = new Float64Array(size * stride);
  const predicted = new Uint8Array(size * stride);
  for (let i = 0; i < train.size * stride; i++) {
    const label = train.keypoints[i];
    const fill = Number.isNaN(label);
    keypoints[i] = fill ? trainPredictions[i] : label;
    predicted[i] = fill ? 1 : (train.predicted?.[i] ?? 0);
  }
  if (unlabelled && unlabelledPredictions) {
    images.set(unlabelled.images, train.size * FACE_PIXELS);
    for (let i = 0; i < extra * stride; i++) {
      keypoints[train.size * stride + i] = unlabelledPredictions[i];
      predicted[train.size * stride + i] = 1;
    }
  }
  return { size, pointCount: train.pointCount, images, keypoints, predicted };
}

function countPredicted(set: KeypointSet): number {
  let n = 0;
  for (const flag of set.predicted ?? []) n += flag;
  return n;
}

/**
 * Run (or resume) the filling rounds. Round 0 trains on complete rows only (or on every row
 * with masked loss, when firstRound is 'all'); round r ≥ 1
 * trains on the set filled by round r − 1's best model, written as filled-round-r.csv with
 * fkd's Predicted column. Finished rounds are skipped on a rerun; an interrupted one resumes.
 */
export async function runFill(plan: FillPlan, trainRound: RoundTrainer): Promise<FillRoundSummary[]> {
  const summaries: FillRoundSummary[] = [];
  const complete = completeRows(plan.data.train);
  const fromAllRows = plan.firstRound === 'all';
  if (!fromAllRows && complete.length < 2) throw new InputError({ file: plan.config.data.train }, `filling needs fully labelled rows to start from, and this file has ${complete.length} (--first-round all starts from every row)`);
  let trainSet: KeypointSet = fromAllRows ? plan.data.train : selectRows(plan.data.train, complete);
  let filledFile: string | undefined;

  for (let round = 0; round <= plan.rounds; round++) {
    const runDir = roundDir(plan.outDir, round);
    if (round > 0) {
      const previous = await TorchModel.load(join(roundDir(plan.outDir, round - 1), 'best.fkd'));
      const trainPredictions = await previous.predict(plan.data.train.images, plan.data.train.size);
      const unlabelledPredictions = plan.unlabelled ? await previous.predict(plan.unlabelled.images, plan.unlabelled.size) : undefined;
      trainSet = fillMissing(plan.data.train, trainPredictions, plan.unlabelled, unlabelledPredictions);
      filledFile = join(plan.outDir, `filled-round-${round}.csv`);
      if (!existsSync(filledFile)) await writeKaggleTraining(filledFile, trainSet, { predictedColumn: true });
    }
    if (existsSync(doneMarker(plan.outDir, round))) {
      summaries.push(JSON.parse(await readFile(doneMarker(plan.outDir, round), 'utf8')) as FillRoundSummary);
      continue;
    }
    const config: TrainConfig = {
      ...plan.config,
      name: `${plan.config.name}-round-${round}`,
      data: { ...plan.config.data, train: filledFile ?? plan.config.data.train },
    };
    const result = await trainRound(round, config, { train: trainSet, dev: plan.data.dev }, runDir, existsSync(join(runDir, 'last.fkd')));
    const summary: FillRoundSummary = {
      round,
      runDir,
      trainFaces: trainSet.size,
      predictedCoordinates: countPredicted(trainSet),
      filledFile,
      bestDevRmse: result.state.stopping.best ?? Number.NaN,
    };
    await writeFileAtomic(doneMarker(plan.outDir, round), JSON.stringify(summary, null, 2) + '\n');
    summaries.push(summary);
  }
  return summaries;
}
