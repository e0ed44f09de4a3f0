import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../src/data/errors.js';
import { cropFace, imagePointsToCrop } from '../src/data/crop.js';
import { decodeGrey } from '../src/data/image.js';
import { countYtf68, parseFrameName, parseYtf68Csv, readYtf68, type Ytf68Data } from '../src/data/landmarks/ytf68.js';
import { findImageBeside, parsePts, readPts } from '../src/data/landmarks/pts.js';
import { KAGGLE15, YTF15_MAPPING, mapPoints } from '../src/schema/index.js';
import { findDataDir } from '../src/util/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'fkd-landmarks-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const NO_DATA = 'shared data not found (set FKD_DATA or provide ../shared/data); real ytf68 checks not run';

function assertInputError(fn: () => unknown, where: { file: string; line?: number; field?: string }, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${err}`);
    assert.deepEqual(err.location, where);
    assert.ok(err.message.includes(where.file), err.message);
    if (where.line !== undefined) assert.ok(err.message.includes(`line ${where.line}`), err.message);
    if (where.field !== undefined) assert.ok(err.message.includes(`"${where.field}"`), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

const HEADER = ',' + Array.from({ length: 136 }, (_, i) => i).join(',');
function csvRow(name: string, offset: number): string {
  return [name, ...Array.from({ length: 136 }, (_, i) => (offset + i * 0.5).toFixed(1))].join(',');
}

// ---------------------------------------------------------------- ytf68 CSV

test('ytf68 CSV rows parse to names, line numbers and 136 coordinates', () => {
  const text = [HEADER, csvRow('A_B_00.jpg', 10), csvRow('A_B_07.jpg', 20), ''].join('\r\n');
  const rows = parseYtf68Csv(text, 'labels.csv');
  assert.deepEqual(rows.map((r) => [r.name, r.line]), [['A_B_00.jpg', 2], ['A_B_07.jpg', 3]]);
  assert.equal(rows[1].points.length, 136);
  assert.deepEqual([rows[1].points[0], rows[1].points[1], rows[1].points[135]], [20, 20.5, 87.5]);
  assert.deepEqual(parseFrameName('Abdel_Aziz_Al-Hakim_07.jpg'), { identity: 'Abdel_Aziz_Al-Hakim', frame: 7 });
  assert.equal(parseFrameName('no_frame.jpg'), undefined);
});

test('ytf68 CSV: a row one column short names file, line and the missing column', () => {
  const short = csvRow('A_00.jpg', 0).split(',').slice(0, -1).join(',');
  const text = [HEADER, csvRow('B_00.jpg', 0), short].join('\n');
  assertInputError(() => parseYtf68Csv(text, 'short.csv'), { file: 'short.csv', line: 3, field: '135' }, /expected 137 columns.*found 136/);
  const long = csvRow('A_00.jpg', 0) + ',1.0';
  assertInputError(() => parseYtf68Csv([HEADER, long].join('\n'), 'long.csv'), { file: 'long.csv', line: 2, field: 'extra column 138' }, /found 138/);
});

test('ytf68 CSV: a non-numeric or empty value names file, line and column', () => {
  const cells = csvRow('A_00.jpg', 0).split(',');
  cells[18] = 'abc'; // column "17" = y8
  assertInputError(() => parseYtf68Csv([HEADER, cells.join(',')].join('\n'), 'bad.csv'), { file: 'bad.csv', line: 2, field: '17' }, /"abc" is not a number/);
  cells[18] = '';
  assertInputError(() => parseYtf68Csv([HEADER, csvRow('B_00.jpg', 1), cells.join(',')].join('\n'), 'bad.csv'), { file: 'bad.csv', line: 3, field: '17' }, /is not a number/);
  cells[18] = '0x10';
  assertInputError(() => parseYtf68Csv([HEADER, cells.join(',')].join('\n'), 'bad.csv'), { file: 'bad.csv', line: 2, field: '17' }, /is not a number/);
});

test('ytf68 CSV: bad header, bad name and duplicate rows are refused', () => {
  assertInputError(() => parseYtf68Csv(HEADER.replace(',7,', ',x,') + '\n', 'h.csv'), { file: 'h.csv', line: 1, field: '7' }, /header/);
  assertInputError(() => parseYtf68Csv([HEADER, csvRow('nameless.jpg', 0)].join('\n'), 'n.csv'), { file: 'n.csv', line: 2, field: 'image name' }, /IDENTITY_NN/);
  assertInputError(
    () => parseYtf68Csv([HEADER, csvRow('A_00.jpg', 0), csvRow('A_00.jpg', 1)].join('\n'), 'd.csv'),
    { file: 'd.csv', line: 3, field: 'image name' },
    /already labelled on line 2/,
  );
});

// ---------------------------------------------------------------- ytf68 folder (synthetic)

/** A tiny ytf68-shaped folder: identity P (train) with labelled frames 01, 05 (64x48) and 09 (80x60). */
async function makeYtf68Fixture(root: string, unlabelled: { folder: string; name: string; width: number; height: number }[]): Promise<void> {
  mkdirSync(join(root, 'training'), { recursive: true });
  mkdirSync(join(root, 'test'), { recursive: true });
  const jpeg = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#336699' } }).jpeg().toBuffer();
  const labelled = [
    { folder: 'training', name: 'P_01.jpg', w: 64, h: 48, offset: 5 },
    { folder: 'training', name: 'P_05.jpg', w: 64, h: 48, offset: 8 },
    { folder: 'test', name: 'P_09.jpg', w: 80, h: 60, offset: 11 },
  ];
  for (const l of [...labelled.map((l) => ({ folder: l.folder, name: l.name, width: l.w, height: l.h })), ...unlabelled]) {
    writeFileSync(join(root, l.folder, l.name), await jpeg(l.width, l.height));
  }
  const csv = (folder: string) => [HEADER, ...labelled.filter((l) => l.folder === folder).map((l) => csvRow(l.name, l.offset)), ''].join('\n');
  writeFileSync(join(root, 'training_frames_keypoints.csv'), csv('training'));
  writeFileSync(join(root, 'test_frames_keypoints.csv'), csv('test'));
  const counts = { identities: 0, labelled_images: 0, unlabelled_images: 0 };
  writeFileSync(
    join(root, 'split.json'),
    JSON.stringify({ identities: { train: ['P'], dev: [], test: [] }, counts: { train: counts, dev: counts, test: counts }, kaggle_sparse: ['training/P_05.jpg'] }),
  );
}

test('unlabelled images borrow the box of the nearest labelled frame of the same identity and size', async () => {
  const root = join(dir, 'ytf-ok');
  await makeYtf68Fixture(root, [
    { folder: 'test', name: 'P_03.jpg', width: 64, height: 48 }, // 01 and 05 tie at distance 2 → lower frame, 01
    { folder: 'training', name: 'P_06.jpg', width: 64, height: 48 }, // nearest same-size: 05
    { folder: 'test', name: 'P_07.jpg', width: 80, height: 60 }, // only 09 has this size
  ]);
  const data = await readYtf68(root, { checkCounts: false });
  assert.deepEqual(
    data.unlabelled.map((u) => [u.path, u.boxFrom]),
    [['test/P_03.jpg', 'training/P_01.jpg'], ['test/P_07.jpg', 'test/P_09.jpg'], ['training/P_06.jpg', 'training/P_05.jpg']],
  );
  const byPath = new Map(data.labelled.map((l) => [l.path, l]));
  for (const u of data.unlabelled) assert.deepEqual(u.box, byPath.get(u.boxFrom)!.box);
  assert.deepEqual(data.labelled.map((l) => [l.path, l.split, l.kaggleSparse, l.width]), [
    ['training/P_01.jpg', 'train', false, 64],
    ['training/P_05.jpg', 'train', true, 64],
    ['test/P_09.jpg', 'train', false, 80],
  ]);
  // The split.json counts (all zero here) are enforced unless turned off.
  await assert.rejects(readYtf68(root), (err: unknown) => err instanceof InputError && err.location.field === 'counts.train.identities');
});

test('an unlabelled image without a same-size labelled sibling is an error naming it', async () => {
  const root = join(dir, 'ytf-orphan');
  await makeYtf68Fixture(root, [{ folder: 'test', name: 'P_02.jpg', width: 50, height: 50 }]);
  await assert.rejects(readYtf68(root, { checkCounts: false }), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(err.location.file, join(root, 'test', 'P_02.jpg'));
    assert.match(err.message, /no labelled image of identity "P" at its size 50x50/);
    return true;
  });
});

// ---------------------------------------------------------------- .pts

function ptsText(points: number, declared = points, eol = '\n'): string {
  const lines = ['version: 1', `n_points:  ${declared}`, '{'];
  for (let i = 0; i < points; i++) lines.push(`${(i + 1).toFixed(3)} ${(200 - i).toFixed(3)}`);
  lines.push('}', '');
  return lines.join(eol);
}

test('.pts parses 68 points and shifts the 1-based coordinates to 0-based', () => {
  const points = parsePts(ptsText(68, 68, '\r\n'), 'face.pts');
  assert.equal(points.length, 136);
  assert.deepEqual([points[0], points[1], points[134], points[135]], [0, 199, 67, 132]);
});

test('.pts with the wrong point count names file and line', () => {
  assertInputError(() => parsePts(ptsText(67), 'n67.pts'), { file: 'n67.pts', line: 2, field: 'n_points' }, /67 points, expected 68/);
  assertInputError(() => parsePts(ptsText(67, 68), 'short.pts'), { file: 'short.pts', line: 71 }, /67 points before "}", n_points declares 68/);
  assertInputError(() => parsePts(ptsText(69, 68), 'long.pts'), { file: 'long.pts', line: 72 }, /more than the 68 points/);
});

test('.pts with a malformed line or missing braces names file and line', () => {
  const lines = ptsText(68).split('\n');
  lines[10] = '12.5 oops';
  assertInputError(() => parsePts(lines.join('\n'), 'bad.pts'), { file: 'bad.pts', line: 11, field: 'point 7' }, /expected "x y", found "12.5 oops"/);
  lines[10] = '12.5';
  assertInputError(() => parsePts(lines.join('\n'), 'bad.pts'), { file: 'bad.pts', line: 11, field: 'point 7' }, /expected "x y"/);
  const noOpen = ptsText(68).replace('{\n', '');
  assertInputError(() => parsePts(noOpen, 'open.pts'), { file: 'open.pts', line: 3 }, /expected "version: 1", "n_points: N" or "{"/);
  const noClose = ptsText(68).replace('}\n', '');
  assertInputError(() => parsePts(noClose, 'close.pts'), { file: 'close.pts', line: 72 }, /missing "}"/);
  assertInputError(() => parsePts('version: 1\n', 'empty.pts'), { file: 'empty.pts', line: 2 }, /missing "{"/);
});

test('the image beside a .pts is found by stem, its format sniffed from the bytes', async () => {
  const folder = join(dir, 'pts');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'face_001.pts'), ptsText(68));
  writeFileSync(join(folder, 'face_001.txt'), 'notes, not an image');
  writeFileSync(join(folder, 'face_0012.png'), 'other stem');
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
  writeFileSync(join(folder, 'face_001.jpg'), png); // a PNG under a .jpg name
  assert.equal(await findImageBeside(join(folder, 'face_001.pts')), join(folder, 'face_001.jpg'));
  assert.equal(readPts(join(folder, 'face_001.pts'))[0], 0);

  writeFileSync(join(folder, 'face_002.pts'), ptsText(68));
  await assert.rejects(findImageBeside(join(folder, 'face_002.pts')), (err: unknown) => err instanceof InputError && /no image beside it/.test(err.message));
  writeFileSync(join(folder, 'face_001.webp'), png);
  await assert.rejects(findImageBeside(join(folder, 'face_001.pts')), (err: unknown) => err instanceof InputError && /more than one image/.test(err.message));
});

// ---------------------------------------------------------------- real ytf68

const ytfDir = findDataDir('ytf68');
let realData: Promise<Ytf68Data> | undefined;
const real = () => (realData ??= readYtf68(ytfDir!));

test('real split: per-split counts match split.json and the brief', async (t) => {
  if (!ytfDir) return t.skip(NO_DATA);
  const data = await real();
  const counts = countYtf68(data);
  assert.deepEqual(counts, data.splitFile.counts);
  assert.deepEqual(
    Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, [c.labelled_images, c.unlabelled_images]])),
    { train: [3258, 1182], dev: [114, 41], test: [860, 315] },
  );
  const sparse = data.labelled.filter((l) => l.kaggleSparse);
  assert.equal(sparse.length, 2269);
  assert.ok(sparse.every((l) => l.split === 'train'));
  const labelled = new Map(data.labelled.map((l) => [l.path, l]));
  for (const u of data.unlabelled) {
    const donor = labelled.get(u.boxFrom);
    assert.ok(donor && donor.identity === u.identity && donor.split === u.split && donor.width === u.width && donor.height === u.height, u.path);
  }
});

/** README: "68 → 15 keypoints", in KAGGLE15 order, written out again here from the README's list. */
const README_68_TO_15: Record<string, number[]> = {
  left_eye_center: [42, 43, 44, 45, 46, 47],
  right_eye_center: [36, 37, 38, 39, 40, 41],
  left_eye_inner_corner: [42],
  left_eye_outer_corner: [45],
  right_eye_inner_corner: [39],
  right_eye_outer_corner: [36],
  left_eyebrow_inner_end: [22],
  left_eyebrow_outer_end: [26],
  right_eyebrow_inner_end: [21],
  right_eyebrow_outer_end: [17],
  nose_tip: [30],
  mouth_left_corner: [54],
  mouth_right_corner: [48],
  mouth_center_top_lip: [51],
  mouth_center_bottom_lip: [57],
};

test('68 → 15 mapping on a real ytf68 row matches the README, in image and crop coordinates', async (t) => {
  if (!ytfDir) return t.skip(NO_DATA);
  // The row read plainly from the CSV text, not through the reader.
  const line = readFileSync(join(ytfDir, 'training_frames_keypoints.csv'), 'utf8').split('\n')[1].trim().split(',');
  const name = line[0];
  const xy = line.slice(1).map(Number);
  const data = await real();
  const image = data.labelled.find((l) => l.path === `training/${name}`)!;
  assert.deepEqual(Array.from(image.points), xy);

  const mapped = mapPoints(YTF15_MAPPING, image.points);
  assert.deepEqual(Object.keys(README_68_TO_15).sort(), [...KAGGLE15.points].sort());
  KAGGLE15.points.forEach((point, k) => {
    const src = README_68_TO_15[point];
    const x = src.reduce((a, i) => a + xy[2 * i], 0) / src.length;
    const y = src.reduce((a, i) => a + xy[2 * i + 1], 0) / src.length;
    assert.ok(Math.abs(mapped[2 * k] - x) < 1e-9 && Math.abs(mapped[2 * k + 1] - y) < 1e-9, point);
  });
  // The subject's left eye is on the image's right.
  assert.ok(mapped[2 * KAGGLE15.points.indexOf('left_eye_center')] > mapped[2 * KAGGLE15.points.indexOf('right_eye_center')]);
  // Mapping commutes with the crop transform (both affine), and the 68 points fill the box as the protocol says.
  const crop68 = imagePointsToCrop(image.box, image.points);
  const crop15 = mapPoints(YTF15_MAPPING, crop68);
  const viaImage = imagePointsToCrop(image.box, mapped);
  crop15.forEach((v, i) => assert.ok(Math.abs(v - viaImage[i]) < 1e-9));
  const us = crop68.filter((_, i) => i % 2 === 0);
  const vs = crop68.filter((_, i) => i % 2 === 1);
  const [du, dv] = [Math.max(...us) - Math.min(...us), Math.max(...vs) - Math.min(...vs)];
  assert.ok(Math.abs(Math.max(du, dv) - 96 / 1.25) < 1e-9, `larger side ${Math.max(du, dv)}`);
  assert.ok(Math.abs((Math.max(...us) + Math.min(...us)) / 2 - 47.5) < 1e-9);
  assert.ok(Math.abs((Math.max(...vs) + Math.min(...vs)) / 2 - 47.5) < 1e-9);
});

test('a real face crop is 96x96 and not blank', async (t) => {
  if (!ytfDir) return t.skip(NO_DATA);
  const image = (await real()).labelled[0];
  const crop = cropFace(await decodeGrey(join(ytfDir, image.path)), image.box);
  assert.equal(crop.length, 96 * 96);
  const mean = crop.reduce((a, b) => a + b, 0) / crop.length;
  const variance = crop.reduce((a, b) => a + (b - mean) ** 2, 0) / crop.length;
  assert.ok(mean > 20 && mean < 235 && variance > 100, `mean ${mean}, variance ${variance}`);
});
