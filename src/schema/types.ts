/** A keypoint schema: names in output order and the left/right pairs a horizontal flip swaps. */
export interface KeypointSchema {
  readonly name: string;
  readonly points: readonly string[];
  /** Index pairs (into `points`) that exchange places under a horizontal image flip. */
  readonly flipPairs: readonly (readonly [number, number])[];
  /** Display colour (CSS name) per point, for drawing. */
  readonly colours: readonly string[];
  /** Points whose distance normalises errors (NME): the outer eye corners, as in 300-W. */
  readonly normalisingPair: readonly [number, number];
}

/** Flip permutation: output point i takes the value of input point perm[i]. */
export function flipPermutation(schema: KeypointSchema): number[] {
  const perm = schema.points.map((_, i) => i);
  for (const [a, b] of schema.flipPairs) {
    perm[a] = b;
    perm[b] = a;
  }
  return perm;
}

/** Kaggle-style column names: `<point>_x`, `<point>_y` for each point. */
export function coordinateColumns(schema: KeypointSchema): string[] {
  return schema.points.flatMap((p) => [`${p}_x`, `${p}_y`]);
}
