import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { InputError } from '../data/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { TrainConfig } from './config.js';
import { learningCurvePng } from './curve.js';
import { metricsCsv, type EpochMetrics } from './metrics.js';

/** The files of one training run; every write is atomic, so a kill leaves each file whole. */
export class RunDirectory {
  constructor(readonly dir: string) {}

  get config(): string {
    return join(this.dir, 'config.json');
  }
  get metricsCsv(): string {
    return join(this.dir, 'metrics.csv');
  }
  get metricsJson(): string {
    return join(this.dir, 'metrics.json');
  }
  get learningCurve(): string {
    return join(this.dir, 'learning-curve.png');
  }
  /** Model file of the epoch with the best dev RMSE. */
  get bestModel(): string {
    return join(this.dir, 'best.fkd');
  }
  /** Checkpoint after the latest epoch: weights, optimiser and trainer state. */
  get lastCheckpoint(): string {
    return join(this.dir, 'last.fkd');
  }

  async writeConfig(config: TrainConfig): Promise<void> {
    await writeFileAtomic(this.config, JSON.stringify(config, null, 2) + '\n');
  }

  async readConfig(): Promise<unknown> {
    const text = await readFile(this.config, 'utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InputError({ file: this.config }, `not valid JSON: ${(err as Error).message}`);
    }
  }

  async writeMetrics(history: readonly EpochMetrics[], title: string): Promise<void> {
    await writeFileAtomic(this.metricsCsv, metricsCsv(history));
    await writeFileAtomic(this.metricsJson, JSON.stringify(history, null, 2) + '\n');
    await writeFileAtomic(this.learningCurve, await learningCurvePng(history, `${title}: RMSE per epoch`));
  }
}
