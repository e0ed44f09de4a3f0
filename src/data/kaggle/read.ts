import { open } from 'node:fs/promises';
import { FACE_PIXELS, type ImageSet, type KeypointSet } from '../dataset.js';
import { InputError } from '../errors.js';
import { IMAGE_COLUMN, IMAGE_ID_COLUMN, PREDICTED_COLUMN, coordinateColumnOwner } from './columns.js';
import { KNOWN_SCHEMAS, coordinateColumns, type KeypointSchema } from '../../schema/index.js';

/** What a Kaggle-format CSV holds, decided by its header. */
export type KaggleFile = { kind: 'training'; set: KeypointSet } | { kind: 'test'; set: ImageSet };

export interface ReadOptions {
  /** Called after each chunk with bytes read so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /**
   * Keep only the labels: the Image column may be absent (as in the keypoints-only
   * training_keypoints.csv) and, when present, is checked but not stored (images come back empty).
   */
  labelsOnly?: boolean;
}

const enum ColumnKind {
  Coord,
  Image,
  ImageId,
  Predicted,
}

interface Column {
  kind: ColumnKind;
  /** Coordinate index for Coord columns. */
  index: number;
  name: string;
}

const CHUNK_BYTES = 4 << 20;
/** Longest scalar field accepted; the Predicted column may be longer: one character per coordinate column. */
const MAX_SCALAR_FIELD = 64;
const COMMA = 44;
const NEWLINE = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

interface ColumnPlan {
  columns: Column[];
  kind: 'training' | 'test';
  /** The keypoint schema the coordinate columns belong to (training layout only). */
  schema?: KeypointSchema;
}

const KNOWN_LAYOUTS = (): string =>
  `expected a keypoint file's header (<point>_x,<point>_y for every point of one known schema: ${KNOWN_SCHEMAS.map((s) => `${s.name}, ${s.points.length * 2} columns`).join('; ')}; then ${IMAGE_COLUMN}) or Kaggle's test.csv header (${IMAGE_ID_COLUMN},${IMAGE_COLUMN})`;

/**
 * The header decides the layout: coordinate columns of exactly one known schema (in any order)
 * make a training layout of that schema; none make a test layout (ImageId,Image).
 */
function planColumns(file: string, header: string[], imageOptional: boolean): ColumnPlan {
  const seen = new Set<string>();
  let schema: KeypointSchema | undefined;
  let schemaWitness = '';
  const columns = header.map((rawName, position): Column => {
    const name = rawName.trim();
    if (seen.has(name)) throw new InputError({ file, line: 1, field: name }, `column appears twice in the header`);
    seen.add(name);
    const owner = coordinateColumnOwner(name);
    if (owner) {
      if (schema && owner.schema !== schema) {
        throw new InputError(
          { file, line: 1, field: name },
          `a ${owner.schema.name} keypoint column after ${schema.name} column ${schemaWitness}: the header mixes keypoint schemas; a file holds the columns of one schema (${KNOWN_SCHEMAS.map((s) => s.name).join(' or ')})`,
        );
      }
      if (!schema) {
        schema = owner.schema;
        schemaWitness = name;
      }
      return { kind: ColumnKind.Coord, index: owner.index, name };
    }
    if (name === IMAGE_COLUMN) return { kind: ColumnKind.Image, index: -1, name };
    if (name === IMAGE_ID_COLUMN) return { kind: ColumnKind.ImageId, index: -1, name };
    if (name === PREDICTED_COLUMN) return { kind: ColumnKind.Predicted, index: -1, name };
    throw new InputError({ file, line: 1, field: name || `#${position + 1}` }, `unknown column; ${KNOWN_LAYOUTS()}`);
  });
  if (!seen.has(IMAGE_COLUMN) && !imageOptional) throw new InputError({ file, line: 1, field: IMAGE_COLUMN }, 'the header has no Image column');
  if (!schema) {
    if (!seen.has(IMAGE_ID_COLUMN)) throw new InputError({ file, line: 1, field: IMAGE_ID_COLUMN }, `a file without keypoint columns needs an ImageId column (Kaggle test.csv); ${KNOWN_LAYOUTS()}`);
    return { columns, kind: 'test' };
  }
  const missing = coordinateColumns(schema).filter((c) => !seen.has(c));
  if (missing.length > 0) {
    const listed = missing.length > 8 ? `${missing.slice(0, 8).join(', ')}, …` : missing.join(', ');
    throw new InputError({ file, line: 1, field: missing[0] }, `the header lacks ${missing.length} ${schema.name} keypoint column(s): ${listed}`);
  }
  return { columns, kind: 'training', schema };
}

/** Growable row storage, sized from the first row so that a large file allocates about once. */
class RowStore {
  rows = 0;
  private capacity = 16;
  images: Uint8Array;
  keypoints: Float64Array;
  imageIds: Int32Array;
  predicted: Uint8Array | undefined;

  constructor(private readonly coordsPerRow: number, hasPredicted: boolean, private readonly pixelsPerRow: number) {
    this.images = new Uint8Array(this.capacity * pixelsPerRow);
    this.keypoints = new Float64Array(this.capacity * coordsPerRow);
    this.imageIds = new Int32Array(this.capacity);
    this.predicted = hasPredicted ? new Uint8Array(this.capacity * coordsPerRow) : undefined;
  }

  ensure(rows: number): void {
    if (rows <= this.capacity) return;
    this.resize(Math.max(rows, Math.ceil(this.capacity * 1.25)));
  }

  resize(capacity: number): void {
    if (capacity <= this.capacity) return;
    const grow = <T extends Uint8Array | Float64Array | Int32Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(capacity * per);
      next.set(old.subarray(0, this.rows * per) as never);
      return next;
    };
    this.images = grow(this.images, (n) => new Uint8Array(n), this.pixelsPerRow);
    this.keypoints = grow(this.keypoints, (n) => new Float64Array(n), this.coordsPerRow);
    this.imageIds = grow(this.imageIds, (n) => new Int32Array(n), 1);
    if (this.predicted) this.predicted = grow(this.predicted, (n) => new Uint8Array(n), this.coordsPerRow);
    this.capacity = capacity;
  }
}

/**
 * Read a Kaggle-format CSV (training.csv layout of any known keypoint schema, decided by the
 * header: Kaggle's 15 points or iBUG's 68; or test.csv's ImageId,Image) in one streaming
 * pass over bytes: the text is never held whole, pixels go straight into a Uint8Array.
 * Missing keypoints (empty fields) become NaN. Any malformed field throws an InputError with
 * the file, line and column.
 */
export async function readKaggleCsv(file: string, options: ReadOptions = {}): Promise<KaggleFile> {
  const handle = await open(file, 'r');
  try {
    const totalBytes = (await handle.stat()).size;
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    // Set from the header: the schema's coordinate columns per row.
    let coordsPerRow = 0;
    let maxScalar = MAX_SCALAR_FIELD;
    let schema: KeypointSchema | undefined;
    const storeImages = options.labelsOnly !== true;

    let headerBytes: number[] | null = [];
    let columns: Column[] = [];
    let kind = 'training' as 'training' | 'test';
    let store: RowStore | null = null;

    let line = 1;
    let col = 0;
    let rowStartByte = 0;
    let bytesSeen = 0;
    let sizedFromFirstRow = false;
    // Per-field state.
    let pixelCount = 0;
    let pixelValue = 0;
    let pixelDigits = 0;
    let scalar = '';
    let rowHasContent = false;
    const seenImageIds = new Set<number>();

    let atEnd = false;
    const failAt = (field: string | undefined, problem: string): never => {
      const hint = atEnd ? ' (the file ends here: truncated?)' : '';
      throw new InputError({ file, line, field }, problem + hint);
    };
    const fail = (problem: string): never => failAt(columns[col]?.name, problem);
    const failRow = (problem: string): never => failAt(undefined, problem);

    const pushPixel = (): void => {
      if (pixelValue > 255) fail(`pixel ${pixelCount + 1} is ${pixelValue}; pixel values must be integers 0-255`);
      if (pixelCount >= FACE_PIXELS) fail(`more than ${FACE_PIXELS} pixel values; an image is 96x96 = ${FACE_PIXELS} grey values`);
      if (storeImages) store!.images[store!.rows * FACE_PIXELS + pixelCount] = pixelValue;
      pixelCount++;
      pixelValue = 0;
      pixelDigits = 0;
    };

    const endField = (): void => {
      const column = columns[col];
      const s = store!;
      const row = s.rows;
      if (scalar.length > maxScalar) fail(`value longer than ${maxScalar} characters`);
      switch (column.kind) {
        case ColumnKind.Image:
          if (pixelDigits > 0) pushPixel();
          if (pixelCount !== FACE_PIXELS) fail(`${pixelCount} pixel values; an image is 96x96 = ${FACE_PIXELS} grey values`);
          break;
        case ColumnKind.Coord: {
          const text = scalar.trim();
          let value = Number.NaN;
          if (text !== '') {
            value = Number(text);
            if (!Number.isFinite(value)) fail(`"${text}" is not a number`);
          }
          s.keypoints[row * coordsPerRow + column.index] = value;
          break;
        }
        case ColumnKind.ImageId: {
          const text = scalar.trim();
          const id = Number(text);
          if (text === '' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) fail(`"${text}" is not an image id (a non-negative integer)`);
          if (seenImageIds.has(id)) fail(`image id ${id} appears twice`);
          seenImageIds.add(id);
          s.imageIds[row] = id;
          break;
        }
        case ColumnKind.Predicted: {
          const text = scalar.trim();
          if (text === '') break; // no flags: every present value is a label
          if (text.length !== coordsPerRow || /[^01]/.test(text)) fail(`expected ${coordsPerRow} characters of 0/1, got "${text}"`);
          for (let i = 0; i < coordsPerRow; i++) s.predicted![row * coordsPerRow + i] = text.charCodeAt(i) - DIGIT_0;
          break;
        }
      }
      scalar = '';
      pixelCount = 0;
      pixelValue = 0;
      pixelDigits = 0;
    };

    const endRow = (rowBytes: number): void => {
      if (col !== columns.length - 1) failRow(`${col + 1} column(s), the header has ${columns.length}`);
      endField();
      const s = store!;
      s.rows++;
      if (!sizedFromFirstRow) {
        // One allocation for the whole file: rows ≈ remaining bytes / first row's bytes, plus slack.
        sizedFromFirstRow = true;
        s.resize(Math.ceil((totalBytes / Math.max(rowBytes, 1)) * 1.05) + 8);
      }
      s.ensure(s.rows + 1);
    };

    const startHeader = (): void => {
      const text = Buffer.from(headerBytes!).toString('utf8').replace(/^\uFEFF/, '').replace(/\r$/, '');
      if (text.trim() === '') throw new InputError({ file, line: 1 }, 'the file is empty (no header line)');
      const plan = planColumns(file, text.split(','), !storeImages);
      columns = plan.columns;
      kind = plan.kind;
      schema = plan.schema;
      coordsPerRow = schema ? schema.points.length * 2 : 0;
      maxScalar = Math.max(MAX_SCALAR_FIELD, coordsPerRow);
      store = new RowStore(coordsPerRow, columns.some((c) => c.kind === ColumnKind.Predicted), storeImages ? FACE_PIXELS : 0);
      headerBytes = null;
    };

    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      let i = 0;
      if (headerBytes) {
        while (i < bytesRead && chunk[i] !== NEWLINE) headerBytes.push(chunk[i++]);
        if (i === bytesRead) {
          bytesSeen += bytesRead;
          if (headerBytes.length > 1 << 20) throw new InputError({ file, line: 1 }, 'header line longer than 1 MiB: not a Kaggle CSV');
          continue;
        }
        i++; // the newline
        startHeader();
        line = 2;
        rowStartByte = bytesSeen + i;
      }
      while (i < bytesRead) {
        const column = columns[col];
        if (column.kind === ColumnKind.Image) {
          // Hot loop: digits and spaces straight into the pixel array.
          for (; i < bytesRead; i++) {
            const b = chunk[i];
            if (b >= DIGIT_0 && b <= DIGIT_9) {
              pixelValue = pixelValue * 10 + (b - DIGIT_0);
              pixelDigits++;
              rowHasContent = true;
            } else if (b === SPACE) {
              if (pixelDigits > 0) pushPixel();
            } else break;
          }
          if (i === bytesRead) break;
        }
        const b = chunk[i++];
        if (b === COMMA) {
          endField();
          col++;
          rowHasContent = true;
          if (col >= columns.length) failRow(`more than the header's ${columns.length} columns`);
        } else if (b === NEWLINE) {
          const rowBytes = bytesSeen + i - rowStartByte;
          if (!rowHasContent && col === 0) {
            // A blank line (e.g. at the end of the file) carries no row.
            scalar = '';
          } else {
            endRow(rowBytes);
          }
          rowStartByte = bytesSeen + i;
          line++;
          col = 0;
          rowHasContent = false;
        } else if (b === CR) {
          // Tolerated before a newline (Windows line ends); elsewhere it is not part of any value.
        } else if (column.kind === ColumnKind.Image) {
          if (b === TAB) continue;
          fail(`unexpected character ${JSON.stringify(String.fromCharCode(b))} after pixel ${pixelCount}; pixel values must be integers 0-255 separated by spaces`);
        } else {
          if (b === QUOTE) fail('quoted fields are not supported in Kaggle-format files');
          rowHasContent = true;
          // Kept short; a longer value is reported when its field ends, after the column count is checked.
          if (scalar.length <= maxScalar) scalar += String.fromCharCode(b);
        }
      }
      bytesSeen += bytesRead;
      options.onProgress?.(bytesSeen, totalBytes);
    }

    if (headerBytes) {
      startHeader();
    } else if (rowHasContent || col > 0) {
      // Last row without a trailing newline: accepted only when complete.
      atEnd = true;
      endRow(bytesSeen - rowStartByte);
    }

    const s = store!;
    const rows = s.rows;
    if (kind === 'test') {
      return { kind, set: { size: rows, imageIds: s.imageIds.subarray(0, rows), images: s.images.subarray(0, rows * FACE_PIXELS) } };
    }
    return {
      kind,
      set: {
        size: rows,
        pointCount: coordsPerRow / 2,
        schema: schema!.name,
        images: storeImages ? s.images.subarray(0, rows * FACE_PIXELS) : new Uint8Array(0),
        keypoints: s.keypoints.subarray(0, rows * coordsPerRow),
        predicted: s.predicted?.subarray(0, rows * coordsPerRow),
      },
    };
  } finally {
    await handle.close();
  }
}

/** Read a training-format file (keypoint columns + Image); a test-format file is an error. */
export async function readKaggleTraining(file: string, options?: ReadOptions): Promise<KeypointSet> {
  const result = await readKaggleCsv(file, options);
  if (result.kind !== 'training') throw new InputError({ file, line: 1 }, 'expected keypoint columns (training.csv layout), found a test.csv layout (ImageId,Image)');
  return result.set;
}

/** Read a test-format file (ImageId,Image). */
export async function readKaggleTest(file: string, options?: ReadOptions): Promise<ImageSet> {
  const result = await readKaggleCsv(file, options);
  if (result.kind !== 'test') throw new InputError({ file, line: 1 }, 'expected a test.csv layout (ImageId,Image), found keypoint columns');
  return result.set;
}
