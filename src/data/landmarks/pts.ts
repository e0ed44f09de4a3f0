/**
 * iBUG `.pts` landmark files (300-W, Helen, LFPW, AFW, …):
 *
 *   version: 1
 *   n_points: 68
 *   {
 *   x y          ← one line per point
 *   }
 *
 * 300-W writes coordinates 1-based (Matlab convention: the first pixel's centre is 1, 1).
 * This project is 0-based with pixel centres at integers, so readers subtract 1 from both.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { InputError } from '../errors.js';
import { sniffImageFormat } from '../image.js';

/** The 1-based → 0-based shift of 300-W coordinates. */
export const PTS_ORIGIN = 1;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a .pts text into interleaved 0-based coordinates x0,y0,…; InputError names file and line. */
export function parsePts(text: string, file: string, expectedPoints = 68): Float64Array {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, '').trim());
  let i = 0;
  let declared: number | undefined;
  let declaredLine = 0;
  // Header: "key: value" lines up to "{".
  for (; i < lines.length && lines[i] !== '{'; i++) {
    const line = i + 1;
    if (lines[i] === '') continue;
    const match = /^(\w+)\s*:\s*(.*)$/.exec(lines[i]);
    if (!match) throw new InputError({ file, line }, `expected "version: 1", "n_points: N" or "{", found "${lines[i]}"`);
    const [, key, value] = match;
    if (key === 'version') {
      if (value !== '1') throw new InputError({ file, line, field: 'version' }, `unsupported version "${value}" (only 1)`);
    } else if (key === 'n_points') {
      if (!/^\d+$/.test(value)) throw new InputError({ file, line, field: 'n_points' }, `"${value}" is not a count`);
      declared = Number(value);
      declaredLine = line;
    } else {
      throw new InputError({ file, line, field: key }, `unknown header field "${key}"`);
    }
  }
  if (i === lines.length) throw new InputError({ file, line: lines.length }, 'missing "{" before the points');
  if (declared === undefined) throw new InputError({ file, line: i + 1, field: 'n_points' }, 'no "n_points:" line before "{"');
  if (declared !== expectedPoints) {
    throw new InputError({ file, line: declaredLine, field: 'n_points' }, `${declared} points, expected ${expectedPoints}`);
  }
  const coords = new Float64Array(2 * declared);
  let count = 0;
  for (i++; i < lines.length && lines[i] !== '}'; i++) {
    const line = i + 1;
    if (lines[i] === '' && lines.slice(i).every((l) => l === '')) break;
    const parts = lines[i].split(/\s+/);
    if (lines[i] === '' || parts.length !== 2 || !NUMBER.test(parts[0]) || !NUMBER.test(parts[1])) {
      throw new InputError({ file, line, field: `point ${count}` }, `expected "x y", found "${lines[i]}"`);
    }
    if (count === declared) throw new InputError({ file, line }, `more than the ${declared} points n_points declares`);
    coords[2 * count] = Number(parts[0]) - PTS_ORIGIN;
    coords[2 * count + 1] = Number(parts[1]) - PTS_ORIGIN;
    count++;
  }
  if (i === lines.length || lines[i] !== '}') throw new InputError({ file, line: Math.min(i + 1, lines.length) }, 'missing "}" after the points');
  if (count !== declared) throw new InputError({ file, line: i + 1 }, `${count} points before "}", n_points declares ${declared}`);
  for (let j = i + 1; j < lines.length; j++) {
    if (lines[j] !== '') throw new InputError({ file, line: j + 1 }, `unexpected text after "}": "${lines[j]}"`);
  }
  return coords;
}

/** Read and parse a .pts file (0-based coordinates). */
export function readPts(file: string, expectedPoints = 68): Float64Array {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError({ file }, `cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  return parsePts(text, file, expectedPoints);
}

/**
 * The image beside a .pts file: a file in the same folder with the same stem and any
 * extension whose bytes are an image (format sniffed, the extension is not trusted).
 * InputError when there is none, or more than one.
 */
export async function findImageBeside(ptsFile: string): Promise<string> {
  const folder = dirname(ptsFile);
  const stem = basename(ptsFile, extname(ptsFile));
  const candidates = readdirSync(folder)
    .filter((name) => name !== basename(ptsFile) && name.startsWith(`${stem}.`) && basename(name, extname(name)) === stem)
    .sort();
  const images: string[] = [];
  for (const name of candidates) {
    if (await sniffImageFormat(join(folder, name))) images.push(join(folder, name));
  }
  if (images.length === 0) throw new InputError({ file: ptsFile }, `no image beside it (looked for ${stem}.* in ${folder})`);
  if (images.length > 1) throw new InputError({ file: ptsFile }, `more than one image beside it: ${images.map((f) => basename(f)).join(', ')}`);
  return images[0];
}

/** A .pts file's points and its image. */
export async function readPtsWithImage(ptsFile: string, expectedPoints = 68): Promise<{ ptsFile: string; imageFile: string; points: Float64Array }> {
  const points = readPts(ptsFile, expectedPoints);
  return { ptsFile, imageFile: await findImageBeside(ptsFile), points };
}
