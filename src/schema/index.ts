import kaggle15Data from './kaggle15.json' with { type: 'json' };
import ibug68Data from './ibug68.json' with { type: 'json' };
import mappingData from './ytf15-mapping.json' with { type: 'json' };
import type { KeypointSchema } from './types.js';

export * from './types.js';

export const KAGGLE15: KeypointSchema & { readonly sparsePoints: readonly number[] } = {
  name: kaggle15Data.name,
  points: kaggle15Data.points,
  flipPairs: kaggle15Data.flipPairs.map(([a, b]) => [a, b] as const),
  colours: kaggle15Data.colours,
  normalisingPair: [kaggle15Data.normalisingPair[0], kaggle15Data.normalisingPair[1]],
  sparsePoints: kaggle15Data.sparsePoints,
};

function ibug68Points(): { points: string[]; colours: string[] } {
  const points: string[] = new Array(68);
  const colours: string[] = new Array(68);
  const groups: Record<string, number[]> = ibug68Data.groups;
  const groupColours = ibug68Data.groupColours as Record<string, string>;
  for (const [group, [first, last]] of Object.entries(groups)) {
    for (let i = first; i <= last; i++) {
      points[i] = `${group}_${i - first}`;
      colours[i] = groupColours[group];
    }
  }
  return { points, colours };
}

const ibug = ibug68Points();
export const IBUG68: KeypointSchema = {
  name: ibug68Data.name,
  points: ibug.points,
  flipPairs: ibug68Data.flipPairs.map(([a, b]) => [a, b] as const),
  colours: ibug.colours,
  normalisingPair: [ibug68Data.normalisingPair[0], ibug68Data.normalisingPair[1]],
};

/** A linear point mapping between schemas: each target point is the mean of some source points. */
export interface PointMapping {
  readonly from: KeypointSchema;
  readonly to: KeypointSchema;
  /** For each target point (in `to.points` order), the source indices averaged. */
  readonly sources: readonly (readonly number[])[];
}

export const YTF15_MAPPING: PointMapping = {
  from: IBUG68,
  to: KAGGLE15,
  sources: KAGGLE15.points.map((name) => {
    const src = (mappingData.sources as Record<string, number[]>)[name];
    if (!src) throw new Error(`ytf15-mapping.json has no entry for ${name}`);
    return src;
  }),
};

/**
 * Apply a mapping to interleaved coordinates (x0,y0,x1,y1,...).
 * A target point is NaN when any of its sources is NaN.
 */
export function mapPoints(mapping: PointMapping, coords: ArrayLike<number>): Float64Array {
  const out = new Float64Array(mapping.to.points.length * 2);
  mapping.sources.forEach((src, t) => {
    let sx = 0;
    let sy = 0;
    for (const s of src) {
      sx += coords[2 * s];
      sy += coords[2 * s + 1];
    }
    out[2 * t] = sx / src.length;
    out[2 * t + 1] = sy / src.length;
  });
  return out;
}

const schemas: Record<string, KeypointSchema> = { kaggle15: KAGGLE15, ibug68: IBUG68 };

/** Every schema fkd knows, e.g. for deciding a CSV file's schema from its header. */
export const KNOWN_SCHEMAS: readonly KeypointSchema[] = Object.values(schemas);

export function schemaByName(name: string): KeypointSchema {
  const schema = schemas[name];
  if (!schema) throw new Error(`unknown keypoint schema "${name}" (known: ${Object.keys(schemas).join(', ')})`);
  return schema;
}

/**
 * The schema of a set of keypoints: the named one when `schema` is given (it must have
 * `pointCount` points), else the one known schema with `pointCount` points.
 */
export function schemaOfSet(set: { readonly pointCount: number; readonly schema?: string }): KeypointSchema {
  if (set.schema !== undefined) {
    const schema = schemaByName(set.schema);
    if (schema.points.length !== set.pointCount) throw new Error(`schema ${schema.name} has ${schema.points.length} points, the set has ${set.pointCount}`);
    return schema;
  }
  const matches = KNOWN_SCHEMAS.filter((s) => s.points.length === set.pointCount);
  if (matches.length !== 1) throw new Error(`no known keypoint schema has ${set.pointCount} points (known: ${KNOWN_SCHEMAS.map((s) => `${s.name} ${s.points.length}`).join(', ')})`);
  return matches[0];
}
