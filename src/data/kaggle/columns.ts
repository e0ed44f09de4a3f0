import { KAGGLE15, coordinateColumns } from '../../schema/index.js';

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
export const TRAINING_HEADER: readonly string[] = [...KAGGLE_COORD_COLUMNS, IMAGE_COLUMN];
/** Header of Kaggle's test.csv. */
export const TEST_HEADER: readonly string[] = [IMAGE_ID_COLUMN, IMAGE_COLUMN];
