/**
 * The ytf68 landmark data (YouTube Faces frames, 68 iBUG points) and its canonical split,
 * as described in shared/data/README.md: which images are labelled, their points, their
 * split, and for unlabelled images the face box borrowed from a labelled sibling frame.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { readImageHeader } from '../image.js';
import { protocolFaceBox, type FaceBox } from '../crop.js';

export type Ytf68Split = 'train' | 'dev' | 'test';
export const YTF68_SPLITS: readonly Ytf68Split[] = ['train', 'dev', 'test'];

/** Image folders and the label file of each. */
export const YTF68_FOLDERS = [
  { folder: 'training', labels: 'training_frames_keypoints.csv' },
  { folder: 'test', labels: 'test_frames_keypoints.csv' },
] as const;

const POINTS = 68;
const COORDS = 2 * POINTS;
/** Name of the first CSV column in messages (its header cell is empty). */
const NAME_FIELD = 'image name';

/** One row of a ytf68 label file. */
export interface Ytf68Row {
  /** File name inside its folder, e.g. `Luis_Fonsi_21.jpg`. */
  readonly name: string;
  /** 1-based line in the CSV (the header is line 1). */
  readonly line: number;
  /** x0,y0,…,x67,y67 in image pixels, 0-based. */
  readonly points: Float64Array;
}

/** Identity and frame number from `IDENTITY_NN.jpg`; undefined when the name has another shape. */
export function parseFrameName(name: string): { identity: string; frame: number } | undefined {
  const match = /^(.+)_(\d+)\.jpg$/.exec(name);
  return match ? { identity: match[1], frame: Number(match[2]) } : undefined;
}

// Plain decimal numbers only: Number() would also take '', ' ', '0x1f' and 'Infinity'.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a ytf68 label CSV: header `,0,1,…,135`, then a file name and 136 numbers per row. */
export function parseYtf68Csv(text: string, file: string): Ytf68Row[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const header = lines[0].replace(/\r$/, '').split(',');
  const expectedHeader = ['', ...Array.from({ length: COORDS }, (_, i) => String(i))];
  for (let c = 0; c < Math.max(header.length, expectedHeader.length); c++) {
    if (header[c] !== expectedHeader[c]) {
      throw new InputError(
        { file, line: 1, field: expectedHeader[c] ?? header[c] },
        `header should be ",0,1,…,135" (${expectedHeader.length} columns); column ${c + 1} is ${header[c] === undefined ? 'missing' : `"${header[c]}"`}`,
      );
    }
  }
  const rows: Ytf68Row[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const line = i + 1;
    if (raw === '') {
      if (lines.slice(i + 1).some((l) => l.trim() !== '')) throw new InputError({ file, line }, 'empty line inside the table');
      break;
    }
    const cells = raw.split(',');
    if (cells.length !== expectedHeader.length) {
      const field = cells.length < expectedHeader.length ? expectedHeader[cells.length] : `extra column ${expectedHeader.length + 1}`;
      throw new InputError({ file, line, field }, `expected ${expectedHeader.length} columns (a file name and ${COORDS} numbers), found ${cells.length}`);
    }
    const name = cells[0];
    if (!parseFrameName(name)) throw new InputError({ file, line, field: NAME_FIELD }, `"${name}" is not IDENTITY_NN.jpg`);
    const earlier = seen.get(name);
    if (earlier !== undefined) throw new InputError({ file, line, field: NAME_FIELD }, `"${name}" is already labelled on line ${earlier}`);
    seen.set(name, line);
    const points = new Float64Array(COORDS);
    for (let c = 0; c < COORDS; c++) {
      const cell = cells[c + 1];
      if (!DECIMAL.test(cell)) throw new InputError({ file, line, field: expectedHeader[c + 1] }, `"${cell}" is not a number`);
      points[c] = Number(cell);
    }
    rows.push({ name, line, points });
  }
  return rows;
}

export interface Ytf68SplitCounts {
  readonly identities: number;
  readonly labelled_images: number;
  readonly unlabelled_images: number;
}

/** split.json: identities per split, the expected counts, and the train images to make sparse. */
export interface Ytf68SplitFile {
  readonly file: string;
  readonly splitOf: ReadonlyMap<string, Ytf68Split>;
  readonly identities: Readonly<Record<Ytf68Split, readonly string[]>>;
  readonly counts: Readonly<Record<Ytf68Split, Ytf68SplitCounts>>;
  /** Relative image paths (`training/…` or `test/…`) whose labels are cut to Kaggle's 4 sparse points. */
  readonly kaggleSparse: ReadonlySet<string>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

export function readYtf68SplitFile(file: string): Ytf68SplitFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError({ file }, `not readable JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const root = json as { identities?: Record<string, unknown>; counts?: Record<string, Record<string, unknown>>; kaggle_sparse?: unknown };
  const splitOf = new Map<string, Ytf68Split>();
  const identities = {} as Record<Ytf68Split, string[]>;
  const counts = {} as Record<Ytf68Split, Ytf68SplitCounts>;
  for (const split of YTF68_SPLITS) {
    const list = root.identities?.[split];
    if (!isStringArray(list)) throw new InputError({ file, field: `identities.${split}` }, 'should be a list of identity names');
    for (const identity of list) {
      const other = splitOf.get(identity);
      if (other) throw new InputError({ file, field: `identities.${split}` }, `identity "${identity}" is also in ${other}`);
      splitOf.set(identity, split);
    }
    identities[split] = list;
    const c = root.counts?.[split];
    const numbers = ['identities', 'labelled_images', 'unlabelled_images'] as const;
    for (const key of numbers) {
      if (!Number.isInteger(c?.[key])) throw new InputError({ file, field: `counts.${split}.${key}` }, 'should be an integer');
    }
    counts[split] = { identities: c!.identities as number, labelled_images: c!.labelled_images as number, unlabelled_images: c!.unlabelled_images as number };
  }
  if (!isStringArray(root.kaggle_sparse)) throw new InputError({ file, field: 'kaggle_sparse' }, 'should be a list of image paths');
  return { file, splitOf, identities, counts, kaggleSparse: new Set(root.kaggle_sparse) };
}

interface FrameImage {
  /** Relative to the ytf68 folder: `training/NAME.jpg` or `test/NAME.jpg`. */
  readonly path: string;
  readonly folder: 'training' | 'test';
  readonly identity: string;
  /** The `NN` of `_NN.jpg`. */
  readonly frame: number;
  readonly split: Ytf68Split;
  /** Stored pixel size (from the header; landmark data ignores EXIF orientation). */
  readonly width: number;
  readonly height: number;
  /** The protocol's face box. */
  readonly box: FaceBox;
}

export interface Ytf68Labelled extends FrameImage {
  /** Listed in split.json's kaggle_sparse: train on Kaggle's 4 sparse points only. */
  readonly kaggleSparse: boolean;
  /** x0,y0,…,x67,y67 in image pixels (0-based, pixel centres at integers). */
  readonly points: Float64Array;
}

export interface Ytf68Unlabelled extends FrameImage {
  /** The labelled image whose box this one borrows (same identity and size, nearest frame number). */
  readonly boxFrom: string;
}

export interface Ytf68Data {
  readonly root: string;
  readonly splitFile: Ytf68SplitFile;
  /** Label-file order: training CSV rows, then test CSV rows. */
  readonly labelled: readonly Ytf68Labelled[];
  /** Sorted by path. */
  readonly unlabelled: readonly Ytf68Unlabelled[];
}

export interface ReadYtf68Options {
  /** Fail unless the per-split counts equal split.json's `counts` (default true; off for partial copies). */
  readonly checkCounts?: boolean;
  /** Image headers read at once (default 16). */
  readonly concurrency?: number;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The labelled image an unlabelled one borrows its face box from: same identity, same stored
 * size, nearest frame number; ties go to the same folder, then the lower frame, then the path.
 * (In the real data every unlabelled test/ image has a same-named training/ frame: distance 0.)
 */
export function boxDonor<T extends Omit<FrameImage, 'box' | 'split'>>(
  image: Omit<FrameImage, 'box' | 'split'>,
  labelled: readonly T[],
): T | undefined {
  let best: T | undefined;
  let bestKey: [number, number, number, string] | undefined;
  for (const candidate of labelled) {
    if (candidate.identity !== image.identity || candidate.width !== image.width || candidate.height !== image.height) continue;
    const key: [number, number, number, string] = [
      Math.abs(candidate.frame - image.frame),
      candidate.folder === image.folder ? 0 : 1,
      candidate.frame,
      candidate.path,
    ];
    if (isBefore(key, bestKey)) {
      best = candidate;
      bestKey = key;
    }
  }
  return best;
}

/** Lexicographic order on (frame distance, other folder, frame, path). */
function isBefore(a: [number, number, number, string], b: [number, number, number, string] | undefined): boolean {
  if (!b) return true;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  return a[3] < b[3];
}

/** Read ytf68 (labels, split.json, image headers) from its folder, e.g. findDataDir('ytf68'). */
export async function readYtf68(root: string, options: ReadYtf68Options = {}): Promise<Ytf68Data> {
  const splitFile = readYtf68SplitFile(join(root, 'split.json'));
  const splitOfImage = (path: string, identity: string, where: { file: string; line?: number; field?: string }): Ytf68Split => {
    const split = splitFile.splitOf.get(identity);
    if (!split) throw new InputError(where, `identity "${identity}" of ${path} is in no split of ${splitFile.file}`);
    return split;
  };

  interface Pending {
    path: string;
    folder: 'training' | 'test';
    identity: string;
    frame: number;
    split: Ytf68Split;
    points?: Float64Array;
  }
  const pending: Pending[] = [];
  const unlabelledPending: Pending[] = [];
  for (const { folder, labels } of YTF68_FOLDERS) {
    const csvFile = join(root, labels);
    let text: string;
    try {
      text = readFileSync(csvFile, 'utf8');
    } catch (err) {
      throw new InputError({ file: csvFile }, `cannot read (${err instanceof Error ? err.message : String(err)})`);
    }
    const rows = parseYtf68Csv(text, csvFile);
    const images = new Set(readdirSync(join(root, folder)).filter((name) => name.endsWith('.jpg')));
    const labelledNames = new Set<string>();
    for (const row of rows) {
      const path = `${folder}/${row.name}`;
      if (!images.has(row.name)) throw new InputError({ file: csvFile, line: row.line, field: NAME_FIELD }, `image ${path} does not exist`);
      const { identity, frame } = parseFrameName(row.name)!;
      const split = splitOfImage(path, identity, { file: csvFile, line: row.line, field: NAME_FIELD });
      pending.push({ path, folder, identity, frame, split, points: row.points });
      labelledNames.add(row.name);
    }
    for (const name of [...images].sort()) {
      if (labelledNames.has(name)) continue;
      const path = `${folder}/${name}`;
      const parsed = parseFrameName(name);
      if (!parsed) throw new InputError({ file: join(root, path) }, 'unlabelled image name is not IDENTITY_NN.jpg');
      const split = splitOfImage(path, parsed.identity, { file: splitFile.file, field: 'identities' });
      unlabelledPending.push({ path, folder, identity: parsed.identity, frame: parsed.frame, split });
    }
  }

  const concurrency = options.concurrency ?? 16;
  const sizeOf = (p: Pending) => readImageHeader(join(root, p.path)).then(({ width, height }) => ({ ...p, width, height }));
  const labelledSized = await mapLimited(pending, concurrency, sizeOf);
  unlabelledPending.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const unlabelledSized = await mapLimited(unlabelledPending, concurrency, sizeOf);

  const labelled: Ytf68Labelled[] = labelledSized.map((p) => {
    let box: FaceBox;
    try {
      box = protocolFaceBox(p.points!);
    } catch (err) {
      throw new InputError({ file: join(root, p.path) }, `no face box from its points (${err instanceof Error ? err.message : String(err)})`);
    }
    return {
      path: p.path,
      folder: p.folder,
      identity: p.identity,
      frame: p.frame,
      split: p.split,
      width: p.width,
      height: p.height,
      box,
      kaggleSparse: splitFile.kaggleSparse.has(p.path),
      points: p.points!,
    };
  });

  const labelledPaths = new Map(labelled.map((l) => [l.path, l]));
  for (const path of splitFile.kaggleSparse) {
    const image = labelledPaths.get(path);
    if (!image || image.split !== 'train') {
      throw new InputError({ file: splitFile.file, field: 'kaggle_sparse' }, `${path} is not a labelled train image`);
    }
  }

  const unlabelled: Ytf68Unlabelled[] = unlabelledSized.map((p) => {
    const donor = boxDonor(p, labelled);
    if (!donor) {
      throw new InputError(
        { file: join(root, p.path) },
        `unlabelled image has no labelled image of identity "${p.identity}" at its size ${p.width}x${p.height} to take a face box from`,
      );
    }
    return { path: p.path, folder: p.folder, identity: p.identity, frame: p.frame, split: p.split, width: p.width, height: p.height, box: donor.box, boxFrom: donor.path };
  });

  const data: Ytf68Data = { root, splitFile, labelled, unlabelled };
  if (options.checkCounts ?? true) checkYtf68Counts(data);
  return data;
}

/** Identities and labelled/unlabelled images per split, as found. */
export function countYtf68(data: Pick<Ytf68Data, 'labelled' | 'unlabelled'>): Record<Ytf68Split, Ytf68SplitCounts> {
  const result = {} as Record<Ytf68Split, Ytf68SplitCounts>;
  for (const split of YTF68_SPLITS) {
    const labelled = data.labelled.filter((i) => i.split === split);
    const unlabelled = data.unlabelled.filter((i) => i.split === split);
    const identities = new Set([...labelled, ...unlabelled].map((i) => i.identity));
    result[split] = { identities: identities.size, labelled_images: labelled.length, unlabelled_images: unlabelled.length };
  }
  return result;
}

/** InputError (on split.json's `counts` field) unless the data found matches split.json's counts. */
export function checkYtf68Counts(data: Ytf68Data): void {
  const found = countYtf68(data);
  for (const split of YTF68_SPLITS) {
    for (const key of ['identities', 'labelled_images', 'unlabelled_images'] as const) {
      const want = data.splitFile.counts[split][key];
      if (found[split][key] !== want) {
        throw new InputError({ file: data.splitFile.file, field: `counts.${split}.${key}` }, `says ${want}, the data has ${found[split][key]}`);
      }
    }
  }
}
