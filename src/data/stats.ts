import type { KeypointSet } from './dataset.js';
import type { KeypointSchema } from '../schema/types.js';

export interface KeypointStats {
  name: string;
  present: number;
  missing: number;
  meanX: number;
  meanY: number;
  stdX: number;
  stdY: number;
}

export interface SetStats {
  rows: number;
  completeRows: number;
  /** Rows that carry only the points of Kaggle's sparse labelling (or fewer). */
  perKeypoint: KeypointStats[];
  /** How many rows carry exactly k points, for k = 0..pointCount. */
  pointsPerRow: number[];
}

/** Label coverage and position statistics: the first table a user wants of a keypoint file. */
export function computeStats(set: KeypointSet, schema: KeypointSchema): SetStats {
  const points = set.pointCount;
  const stride = points * 2;
  const present = new Array<number>(points).fill(0);
  const sum = new Float64Array(stride);
  const sumSq = new Float64Array(stride);
  const pointsPerRow = new Array<number>(points + 1).fill(0);
  let completeRows = 0;
  for (let r = 0; r < set.size; r++) {
    let count = 0;
    for (let p = 0; p < points; p++) {
      const x = set.keypoints[r * stride + 2 * p];
      const y = set.keypoints[r * stride + 2 * p + 1];
      if (Number.isNaN(x) || Number.isNaN(y)) continue;
      count++;
      present[p]++;
      sum[2 * p] += x;
      sum[2 * p + 1] += y;
      sumSq[2 * p] += x * x;
      sumSq[2 * p + 1] += y * y;
    }
    pointsPerRow[count]++;
    if (count === points) completeRows++;
  }
  const std = (c: number, n: number): number => (n > 1 ? Math.sqrt(Math.max(0, (sumSq[c] - (sum[c] * sum[c]) / n) / (n - 1))) : Number.NaN);
  const perKeypoint = schema.points.slice(0, points).map((name, p) => {
    const n = present[p];
    return {
      name,
      present: n,
      missing: set.size - n,
      meanX: n ? sum[2 * p] / n : Number.NaN,
      meanY: n ? sum[2 * p + 1] / n : Number.NaN,
      stdX: std(2 * p, n),
      stdY: std(2 * p + 1, n),
    };
  });
  return { rows: set.size, completeRows, perKeypoint, pointsPerRow };
}

/** The stats as an aligned text table. */
export function formatStats(stats: SetStats): string {
  const pct = (n: number): string => (stats.rows ? ((100 * n) / stats.rows).toFixed(1) : '0.0');
  const f = (v: number): string => (Number.isNaN(v) ? '-' : v.toFixed(2));
  const lines = [
    `rows: ${stats.rows}`,
    `complete rows (every keypoint present): ${stats.completeRows} (${pct(stats.completeRows)} %)`,
    '',
    `${'keypoint'.padEnd(26)}${'present'.padStart(8)}${'missing'.padStart(9)}${'present %'.padStart(11)}${'mean x'.padStart(9)}${'mean y'.padStart(9)}${'sd x'.padStart(7)}${'sd y'.padStart(7)}`,
  ];
  for (const k of stats.perKeypoint) {
    lines.push(
      `${k.name.padEnd(26)}${String(k.present).padStart(8)}${String(k.missing).padStart(9)}${pct(k.present).padStart(11)}${f(k.meanX).padStart(9)}${f(k.meanY).padStart(9)}${f(k.stdX).padStart(7)}${f(k.stdY).padStart(7)}`,
    );
  }
  lines.push('', 'keypoints per row: ' + stats.pointsPerRow.map((n, k) => (n ? `${k}: ${n}` : '')).filter(Boolean).join(', '));
  return lines.join('\n');
}
