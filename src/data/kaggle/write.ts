import { FACE_PIXELS, type ImageSet, type KeypointSet } from '../dataset.js';
import { streamFileAtomic } from '../../util/atomic.js';
import { TEST_HEADER, trainingHeader } from './columns.js';
import { schemaOfSet } from '../../schema/index.js';

/** A coordinate as Kaggle writes it: shortest round-trip decimal, empty when missing. */
function formatCoordinate(value: number): string {
  return Number.isNaN(value) ? '' : String(value);
}

/**
 * Write a set in Kaggle's training.csv layout: the set's schema's keypoint columns (for Kaggle's
 * 15 points exactly Kaggle's 30 columns; for ibug68 136 columns `jaw_0_x`, …) then Image. With
 * `predictedColumn`, fkd's Predicted column (0/1 per coordinate) goes before Image.
 * Atomic: the file appears complete or not at all.
 */
export async function writeKaggleTraining(path: string, set: KeypointSet, options: { predictedColumn?: boolean } = {}): Promise<void> {
  const schema = schemaOfSet(set);
  const coords = schema.points.length * 2;
  const withPredicted = options.predictedColumn === true;
  const header = trainingHeader(schema, { predictedColumn: withPredicted });
  await streamFileAtomic(path, async (sink) => {
    await sink.text(header.join(',') + '\n');
    for (let r = 0; r < set.size; r++) {
      const fields: string[] = [];
      for (let c = 0; c < coords; c++) fields.push(formatCoordinate(set.keypoints[r * coords + c]));
      if (withPredicted) {
        let flags = '';
        for (let c = 0; c < coords; c++) flags += set.predicted?.[r * coords + c] ? '1' : '0';
        fields.push(flags);
      }
      await sink.text(fields.join(',') + ',');
      await sink.reserve(FACE_PIXELS * 4 + 1);
      sink.bytesAsDecimals(set.images.subarray(r * FACE_PIXELS, (r + 1) * FACE_PIXELS));
      await sink.text('\n');
    }
  });
}

/** Write faces in Kaggle's test.csv layout (ImageId,Image). */
export async function writeKaggleTest(path: string, set: ImageSet): Promise<void> {
  await streamFileAtomic(path, async (sink) => {
    await sink.text(TEST_HEADER.join(',') + '\n');
    for (let r = 0; r < set.size; r++) {
      await sink.text(`${set.imageIds[r]},`);
      await sink.reserve(FACE_PIXELS * 4 + 1);
      sink.bytesAsDecimals(set.images.subarray(r * FACE_PIXELS, (r + 1) * FACE_PIXELS));
      await sink.text('\n');
    }
  });
}
