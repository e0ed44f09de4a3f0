import { KAGGLE15, KNOWN_SCHEMAS, coordinateColumns, type KeypointSchema } from '../../schema/index.js';

/** The 30 keypoint columns of Kaggle's training.csv, in Kaggle's order. */
export const KAGGLE_COORD_COLUMNS: readonly string[] = coordinateColumns(KAGGLE15);
export const IMAGE_COLUMN = 'Image';
export const IMAGE_ID_COLUMN = 'ImageId';
/**
 * fkd's own optional column (not Kaggle's): one character per coordinate column, '1' where the
 * value was predicted by a model (semi-supervised filling), '0' where a person labelled it.
 */
export const PREDICTED_COLUMN = 'Predicted';

/** Header of Kaggle's training.csv: 30 keypoint columns then Image. */
export const TRAINING_HEADER: readonly string[] = trainingHeader(KAGGLE15);
/** Header of Kaggle's test.csv. */
export const TEST_HEADER: readonly string[] = [IMAGE_ID_COLUMN, IMAGE_COLUMN];

/**
 * The training.csv layout for any known schema: `<point>_x`,`<point>_y` per point in the
 * schema's order, optionally fkd's Predicted column, then Image. For kaggle15 this is exactly
 * Kaggle's header.
 */
export function trainingHeader(schema: KeypointSchema, options: { predictedColumn?: boolean } = {}): string[] {
  return [...coordinateColumns(schema), ...(options.predictedColumn ? [PREDICTED_COLUMN] : []), IMAGE_COLUMN];
}

/** For each coordinate column name of every known schema: its schema and index. */
const COORDINATE_COLUMN_OWNERS: ReadonlyMap<string, { schema: KeypointSchema; index: number }> = (() => {
  const owners = new Map<string, { schema: KeypointSchema; index: number }>();
  for (const schema of KNOWN_SCHEMAS) {
    coordinateColumns(schema).forEach((name, index) => {
      const other = owners.get(name);
      if (other) throw new Error(`column ${name} belongs to both schemas ${other.schema.name} and ${schema.name}`);
      owners.set(name, { schema, index });
    });
  }
  return owners;
})();

/** The known schema and coordinate index a column name belongs to (e.g. nose_tip_x → kaggle15, 20). */
export function coordinateColumnOwner(name: string): { schema: KeypointSchema; index: number } | undefined {
  return COORDINATE_COLUMN_OWNERS.get(name);
}
