/** One row of a run's learning curve. */
export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  learningRate: number;
  /** RMSE in pixels over the present training coordinates, as seen during the epoch (augmented, in train mode). */
  trainRmse: number;
  /** RMSE in pixels over the dev set's present coordinates (eval mode, no augmentation). */
  devRmse: number;
  seconds: number;
  imagesPerSecond: number;
}

/** RMSE over coordinates present in `targets` (NaN = missing), in the targets' units. */
export function maskedRmse(predictions: ArrayLike<number>, targets: ArrayLike<number>): { rmse: number; count: number } {
  if (predictions.length !== targets.length) throw new RangeError(`maskedRmse: ${predictions.length} predictions for ${targets.length} targets`);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (Number.isNaN(t)) continue;
    const d = predictions[i] - t;
    sum += d * d;
    count++;
  }
  return { rmse: count ? Math.sqrt(sum / count) : NaN, count };
}

const COLUMNS: (keyof EpochMetrics)[] = ['epoch', 'learningRate', 'trainRmse', 'devRmse', 'seconds', 'imagesPerSecond'];

export function metricsCsv(rows: readonly EpochMetrics[]): string {
  return [COLUMNS.join(','), ...rows.map((row) => COLUMNS.map((c) => String(row[c])).join(','))].join('\n') + '\n';
}
