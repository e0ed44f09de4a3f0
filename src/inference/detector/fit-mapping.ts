/**
 * Least-squares fit of the box mapping (box-mapping.ts) from detections paired with true
 * protocol boxes. Targets are scale-free: (cx − bx)/D, (cy − by)/D and s/D, so every face
 * weighs the same whatever its size in pixels.
 */
import type { FaceBox } from '../../data/crop.js';
import { MAPPING_FEATURES, mappingFeatures, type BoxMapping, type DetectorBox, type MappingLandmarks } from './box-mapping.js';

export interface MappingSample {
  readonly box: DetectorBox;
  readonly landmarks: MappingLandmarks;
  readonly truth: FaceBox;
}

/** Root mean square and largest absolute residual of one target, in units of D. */
export interface ResidualSummary {
  readonly rms: number;
  readonly maxAbs: number;
}

export interface MappingFit {
  readonly mapping: BoxMapping;
  readonly samples: number;
  readonly residuals: { readonly cx: ResidualSummary; readonly cy: ResidualSummary; readonly s: ResidualSummary };
}

/** Solve the least-squares problem min |X b − y|² (X: rows of features) by the normal equations. */
export function leastSquares(rows: readonly (readonly number[])[], targets: readonly number[]): number[] {
  const n = rows[0]?.length ?? 0;
  if (rows.length < n || n === 0) throw new RangeError(`leastSquares: ${rows.length} rows for ${n} unknowns`);
  // Augmented normal matrix [XᵀX | Xᵀy].
  const a = Array.from({ length: n }, () => new Float64Array(n + 1));
  rows.forEach((row, r) => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) a[i][j] += row[i] * row[j];
      a[i][n] += row[i] * targets[r];
    }
  });
  // Gaussian elimination with partial pivoting.
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) < 1e-12 * Math.max(1, Math.abs(a[0][0]))) throw new RangeError(`leastSquares: feature ${col} is (nearly) a combination of the others`);
    [a[col], a[pivot]] = [a[pivot], a[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const k = a[r][col] / a[col][col];
      for (let c = col; c <= n; c++) a[r][c] -= k * a[col][c];
    }
  }
  return Array.from({ length: n }, (_, i) => a[i][n] / a[i][i]);
}

function summarise(residuals: readonly number[]): ResidualSummary {
  let sq = 0;
  let maxAbs = 0;
  for (const r of residuals) {
    sq += r * r;
    maxAbs = Math.max(maxAbs, Math.abs(r));
  }
  return { rms: Math.sqrt(sq / residuals.length), maxAbs };
}

/** Fit cx, cy and s on the samples; residuals are in units of the detector box size D. */
export function fitBoxMapping(samples: readonly MappingSample[]): MappingFit {
  const rows: number[][] = [];
  const targets = { cx: [] as number[], cy: [] as number[], s: [] as number[] };
  for (const { box, landmarks, truth } of samples) {
    const { features, bx, by, size } = mappingFeatures(box, landmarks);
    rows.push(features);
    targets.cx.push((truth.cx - bx) / size);
    targets.cy.push((truth.cy - by) / size);
    targets.s.push(truth.s / size);
  }
  const coef = { cx: leastSquares(rows, targets.cx), cy: leastSquares(rows, targets.cy), s: leastSquares(rows, targets.s) };
  const residualsOf = (key: 'cx' | 'cy' | 's') => summarise(rows.map((row, r) => row.reduce((sum, f, i) => sum + f * coef[key][i], 0) - targets[key][r]));
  return {
    mapping: { features: [...MAPPING_FEATURES], ...coef },
    samples: samples.length,
    residuals: { cx: residualsOf('cx'), cy: residualsOf('cy'), s: residualsOf('s') },
  };
}
