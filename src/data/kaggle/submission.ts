import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { streamFileAtomic } from '../../util/atomic.js';
import { KAGGLE_COORD_COLUMNS } from './columns.js';

/** One row of Kaggle's IdLookupTable.csv: which coordinate of which test image Kaggle asks for. */
export interface LookupRow {
  rowId: number;
  imageId: number;
  /** Index into the 30 Kaggle coordinate columns. */
  coordinate: number;
}

const LOOKUP_HEADER = ['RowId', 'ImageId', 'FeatureName', 'Location'];

/** Read IdLookupTable.csv (CRLF or LF), rows sorted by RowId. */
export async function readLookupTable(file: string): Promise<LookupRow[]> {
  const lines = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0].split(',').map((s) => s.trim());
  const wanted = LOOKUP_HEADER.slice(0, 3);
  if (!wanted.every((name, i) => header[i] === name)) {
    throw new InputError({ file, line: 1 }, `expected the header RowId,ImageId,FeatureName[,Location], got "${lines[0]}"`);
  }
  const rows: LookupRow[] = [];
  const seen = new Set<number>();
  for (let i = 1; i < lines.length; i++) {
    const text = lines[i];
    if (text.trim() === '') continue;
    const line = i + 1;
    const fields = text.split(',');
    // Kaggle's own table leaves the empty Location column out of its rows.
    if (fields.length < 3 || fields.length > header.length) throw new InputError({ file, line }, `${fields.length} column(s), the header has ${header.length}`);
    const rowId = Number(fields[0]);
    if (!Number.isInteger(rowId) || rowId <= 0) throw new InputError({ file, line, field: 'RowId' }, `"${fields[0]}" is not a positive integer`);
    if (seen.has(rowId)) throw new InputError({ file, line, field: 'RowId' }, `RowId ${rowId} appears twice`);
    seen.add(rowId);
    const imageId = Number(fields[1]);
    if (!Number.isInteger(imageId) || imageId < 0) throw new InputError({ file, line, field: 'ImageId' }, `"${fields[1]}" is not an image id`);
    const coordinate = KAGGLE_COORD_COLUMNS.indexOf(fields[2].trim());
    if (coordinate < 0) throw new InputError({ file, line, field: 'FeatureName' }, `"${fields[2]}" is not a Kaggle keypoint column`);
    rows.push({ rowId, imageId, coordinate });
  }
  rows.sort((a, b) => a.rowId - b.rowId);
  return rows;
}

/** Kaggle scores coordinates inside the 96x96 image; clipping can only lower the error. */
export function clipToImage(value: number): number {
  return Math.min(96, Math.max(0, value));
}

/**
 * Write a Kaggle submission (RowId,Location) in RowId order from per-image predictions
 * (30 coordinates each, Kaggle's column order), clipped to [0, 96].
 */
export async function writeSubmission(
  path: string,
  lookup: readonly LookupRow[],
  predictions: ReadonlyMap<number, ArrayLike<number>>,
): Promise<void> {
  for (const row of lookup) {
    const predicted = predictions.get(row.imageId);
    if (!predicted) throw new Error(`no prediction for ImageId ${row.imageId} (RowId ${row.rowId}) asked for by the lookup table`);
    if (!Number.isFinite(predicted[row.coordinate])) throw new Error(`prediction for ImageId ${row.imageId}, ${KAGGLE_COORD_COLUMNS[row.coordinate]} is not a finite number`);
  }
  await streamFileAtomic(path, async (sink) => {
    await sink.text('RowId,Location\n');
    for (const row of lookup) {
      const value = clipToImage(predictions.get(row.imageId)![row.coordinate]);
      await sink.text(`${row.rowId},${value}\n`);
    }
  });
}
