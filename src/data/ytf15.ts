import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { FACE_PIXELS, type ImageSet, type KeypointSet } from './dataset.js';
import { readYtf68, type Ytf68Labelled, type Ytf68Split, type Ytf68Unlabelled } from './landmarks/ytf68.js';
import { decodeGrey } from './image.js';
import { cropFace, imagePointsToCrop, type FaceBox } from './crop.js';
import { IBUG68, KAGGLE15, YTF15_MAPPING, mapPoints, type KeypointSchema } from '../schema/index.js';
import { writeKaggleTest, writeKaggleTraining } from './kaggle/write.js';
import { readKaggleCsv } from './kaggle/read.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from './errors.js';

export interface BuildYtf15Options {
  ytfDir: string;
  outDir: string;
  /** Keep all 15 labels on kaggle_sparse rows (the full-label task). */
  allLabels?: boolean;
  /**
   * Keypoints per face: 15 (default; the YTF-15 protocol's 68 → 15 mapping, Kaggle's columns)
   * or 68 (all of the iBUG 300-W points, schema ibug68, every row fully labelled: no sparse rows).
   * Same face boxes, crops and split either way.
   */
  points?: 15 | 68;
  /** Also write a 7049-row file of this name with Kaggle's label sparsity. */
  fullSizeFile?: string;
  /** Kaggle training_keypoints.csv, whose per-row missing pattern the full-size file copies. */
  kaggleKeypointsFile?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface BuildYtf15Summary {
  /** Rows written per file name. */
  files: Record<string, number>;
}

/** Kaggle's training.csv row count, the size of the full-size scale-test file. */
export const KAGGLE_TRAINING_ROWS = 7049;

interface CroppedFace {
  path: string;
  box: FaceBox;
  pixels: Uint8Array;
  /** The schema's crop coordinates: 30 or 136 (labelled faces only). */
  keypoints?: Float64Array;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

function toKeypointSet(faces: readonly CroppedFace[], schema: KeypointSchema, keepOnly?: (face: CroppedFace) => readonly number[] | undefined): KeypointSet {
  const points = schema.points.length;
  const stride = points * 2;
  const images = new Uint8Array(faces.length * FACE_PIXELS);
  const keypoints = new Float64Array(faces.length * stride);
  faces.forEach((face, i) => {
    images.set(face.pixels, i * FACE_PIXELS);
    const kept = keepOnly?.(face);
    for (let p = 0; p < points; p++) {
      const keep = !kept || kept.includes(p);
      keypoints[i * stride + 2 * p] = keep ? face.keypoints![2 * p] : Number.NaN;
      keypoints[i * stride + 2 * p + 1] = keep ? face.keypoints![2 * p + 1] : Number.NaN;
    }
  });
  return { size: faces.length, pointCount: points, schema: schema.name, images, keypoints };
}

function toImageSet(faces: readonly CroppedFace[]): ImageSet {
  const images = new Uint8Array(faces.length * FACE_PIXELS);
  faces.forEach((face, i) => images.set(face.pixels, i * FACE_PIXELS));
  return { size: faces.length, imageIds: Int32Array.from(faces, (_, i) => i + 1), images };
}

/**
 * Rows of a Kaggle-size file: the train faces in turn, each row keeping only the keypoints
 * that the same row of Kaggle's training_keypoints.csv carries (its real sparsity).
 */
async function readSparsityPattern(kaggleKeypointsFile: string): Promise<Float64Array> {
  if (!existsSync(kaggleKeypointsFile)) {
    throw new InputError({ file: kaggleKeypointsFile }, 'not found: --full-size copies the missing-label pattern of Kaggle\'s training_keypoints.csv (use --kaggle-keypoints)');
  }
  const kaggle = await readKaggleCsv(kaggleKeypointsFile, { labelsOnly: true });
  if (kaggle.kind !== 'training' || kaggle.set.size < KAGGLE_TRAINING_ROWS) {
    throw new InputError({ file: kaggleKeypointsFile }, `expected ${KAGGLE_TRAINING_ROWS} keypoint rows`);
  }
  return kaggle.set.keypoints;
}

function fullSizeSet(trainFaces: readonly CroppedFace[], pattern: Float64Array): KeypointSet {
  const faces = Array.from({ length: KAGGLE_TRAINING_ROWS }, (_, r) => trainFaces[r % trainFaces.length]);
  const set = toKeypointSet(faces, KAGGLE15);
  for (let c = 0; c < set.keypoints.length; c++) if (Number.isNaN(pattern[c])) set.keypoints[c] = Number.NaN;
  return set;
}

function sourcesCsv(entries: { file: string; row: number; face: CroppedFace; split: Ytf68Split; sparse: boolean; boxFrom?: string }[]): string {
  const lines = ['file,row,image,split,kaggle_sparse,box_cx,box_cy,box_s,box_from'];
  for (const e of entries) {
    lines.push([e.file, e.row, e.face.path, e.split, e.sparse ? 1 : 0, e.face.box.cx, e.face.box.cy, e.face.box.s, e.boxFrom ?? ''].join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * Build the YTF-15 benchmark files (shared/data/README.md, "The benchmark protocol"):
 * training.csv (train split; kaggle_sparse rows cut to Kaggle's 4 points unless allLabels),
 * dev.csv and test.csv (all 15 labels), unlabelled.csv (train identities' unlabelled frames,
 * Kaggle test.csv layout), sources.csv (which image and face box each row came from) and
 * manifest.json. Every file is written atomically.
 *
 * With `points: 68` the same crops carry all 68 points (schema ibug68) in every file, the
 * train split included: the 68-point task uses every label.
 */
export async function buildYtf15(options: BuildYtf15Options): Promise<BuildYtf15Summary> {
  const points = options.points ?? 15;
  if (points !== 15 && points !== 68) throw new Error(`buildYtf15: points must be 15 or 68, got ${String(points)}`);
  const schema = points === 68 ? IBUG68 : KAGGLE15;
  if (points === 68 && options.fullSizeFile) throw new Error("the full-size file copies Kaggle's 15-point label sparsity; it cannot be built with 68 points");
  // Only the 15-point task cuts the train split's kaggle_sparse rows to Kaggle's 4 points.
  const allLabels = options.allLabels === true || points === 68;
  // Everything that can fail on input is read before the first file is written.
  const data = await readYtf68(options.ytfDir);
  const sparsityPattern = options.fullSizeFile ? await readSparsityPattern(options.kaggleKeypointsFile ?? '') : undefined;
  const total = data.labelled.length + data.unlabelled.filter((u) => u.split === 'train').length;
  let done = 0;
  const crop = async (image: Ytf68Labelled | Ytf68Unlabelled): Promise<CroppedFace> => {
    const grey = await decodeGrey(join(options.ytfDir, image.path));
    const face: CroppedFace = { path: image.path, box: image.box, pixels: cropFace(grey, image.box) };
    if ('points' in image) face.keypoints = imagePointsToCrop(image.box, points === 68 ? image.points : mapPoints(YTF15_MAPPING, image.points));
    options.onProgress?.(++done, total);
    return face;
  };

  const bySplit = (split: Ytf68Split): Ytf68Labelled[] =>
    data.labelled.filter((l) => l.split === split).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const labelledBySplit = { train: bySplit('train'), dev: bySplit('dev'), test: bySplit('test') };
  const unlabelledTrain = data.unlabelled.filter((u) => u.split === 'train');

  const faces = {
    train: await mapLimited(labelledBySplit.train, 4, crop),
    dev: await mapLimited(labelledBySplit.dev, 4, crop),
    test: await mapLimited(labelledBySplit.test, 4, crop),
    unlabelled: await mapLimited(unlabelledTrain, 4, crop),
  };

  const sparseOf = new Map(labelledBySplit.train.map((l) => [l.path, l.kaggleSparse]));
  const training = toKeypointSet(faces.train, schema, (face) => (!allLabels && sparseOf.get(face.path) ? KAGGLE15.sparsePoints : undefined));
  const files: Record<string, number> = {};
  const out = (name: string): string => join(options.outDir, name);

  await writeKaggleTraining(out('training.csv'), training);
  files['training.csv'] = training.size;
  for (const split of ['dev', 'test'] as const) {
    const set = toKeypointSet(faces[split], schema);
    await writeKaggleTraining(out(`${split}.csv`), set);
    files[`${split}.csv`] = set.size;
  }
  await writeKaggleTest(out('unlabelled.csv'), toImageSet(faces.unlabelled));
  files['unlabelled.csv'] = faces.unlabelled.length;
  if (options.fullSizeFile && sparsityPattern) {
    const full = fullSizeSet(faces.train, sparsityPattern);
    await writeKaggleTraining(out(options.fullSizeFile), full);
    files[options.fullSizeFile] = full.size;
  }

  const sources = [
    ...faces.train.map((face, row) => ({ file: 'training.csv', row, face, split: 'train' as const, sparse: !allLabels && sparseOf.get(face.path) === true })),
    ...faces.dev.map((face, row) => ({ file: 'dev.csv', row, face, split: 'dev' as const, sparse: false })),
    ...faces.test.map((face, row) => ({ file: 'test.csv', row, face, split: 'test' as const, sparse: false })),
    ...faces.unlabelled.map((face, row) => ({ file: 'unlabelled.csv', row, face, split: 'train' as const, sparse: false, boxFrom: unlabelledTrain[row].boxFrom })),
  ];
  await writeFileAtomic(out('sources.csv'), sourcesCsv(sources));
  const manifest = {
    about:
      points === 68
        ? 'YTF-15 protocol crops with all 68 points (schema ibug68), built by `fkd data build-ytf15 --points 68` under the protocol of shared/data/README.md'
        : 'YTF-15 benchmark data built by `fkd data build-ytf15` under the protocol of shared/data/README.md',
    ytf68: options.ytfDir,
    points,
    schema: schema.name,
    allLabels,
    files,
    completeTrainingRows: training.size - faces.train.filter((f) => !allLabels && sparseOf.get(f.path)).length,
    unlabelledBoxes: 'borrowed from the labelled frame of the same identity and size with the nearest frame number',
  };
  await writeFileAtomic(out('manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { files };
}
