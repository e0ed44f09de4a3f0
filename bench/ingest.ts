// bench:ingest — read a 7049-row Kaggle-format training.csv (Kaggle's size and label sparsity,
// built from YTF-15 faces), fkd's streaming reader against pandas read_csv + numpy, same run.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { ensureFullSizeFile } from './fixtures.js';

interface Measurement {
  rows: number;
  seconds: number;
  peak_rss_mb: number;
  decoded_mb?: number;
  runtime_rss_mb?: number;
  missing: number;
}

const PYTHON = '/usr/bin/python3'; // Debian's, which has python3-pandas
const repeats = Number(process.env.BENCH_REPEATS ?? 3);

const file = await ensureFullSizeFile();
const sizeMb = statSync(file).size / 2 ** 20;
console.log(`file: ${file} (${sizeMb.toFixed(1)} MB)`);

function run(command: string, args: string[]): Measurement {
  return JSON.parse(execFileSync(command, args, { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!);
}

function best(label: string, measure: () => Measurement): Measurement {
  const runs = Array.from({ length: repeats }, measure);
  for (const r of runs) console.log(`${label}: ${r.rows} rows in ${r.seconds.toFixed(3)} s, peak RSS ${r.peak_rss_mb.toFixed(0)} MB`);
  return runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

if (!existsSync(resolve(PACKAGE_ROOT, 'dist', 'data', 'kaggle', 'read.js'))) throw new Error('dist/ is missing: run npm run build');
const fkd = best('fkd   ', () => run(process.execPath, ['bench/ingest-child.mjs', file]));
const pandas = best('pandas', () => run(PYTHON, ['bench/ingest_pandas.py', file]));
if (fkd.rows !== pandas.rows || fkd.missing !== pandas.missing) {
  throw new Error(`readers disagree: fkd ${fkd.rows} rows/${fkd.missing} missing, pandas ${pandas.rows}/${pandas.missing}`);
}
const rowsPerS = fkd.rows / fkd.seconds;
const pandasRowsPerS = pandas.rows / pandas.seconds;
const decodedMb = fkd.decoded_mb!;
console.log(`fkd ${rowsPerS.toFixed(0)} rows/s vs pandas ${pandasRowsPerS.toFixed(0)} rows/s: ${(rowsPerS / pandasRowsPerS).toFixed(2)}x (goal >= 3x)`);
console.log(`peak RSS ${fkd.peak_rss_mb.toFixed(0)} MB for ${decodedMb.toFixed(1)} MB decoded (uint8 pixels + float64 keypoints): ${(fkd.peak_rss_mb / decodedMb).toFixed(2)}x (goal <= 1.5x); pandas peak ${pandas.peak_rss_mb.toFixed(0)} MB`);
const aboveRuntime = fkd.peak_rss_mb - fkd.runtime_rss_mb!;
console.log(`of which the Node runtime before reading: ${fkd.runtime_rss_mb!.toFixed(0)} MB; the reader's own growth: ${aboveRuntime.toFixed(0)} MB = ${(aboveRuntime / decodedMb).toFixed(2)}x decoded`);
console.log(
  JSON.stringify({
    rows: fkd.rows,
    rows_per_s: Math.round(rowsPerS),
    pandas_rows_per_s: Math.round(pandasRowsPerS),
    ratio: Number((rowsPerS / pandasRowsPerS).toFixed(2)),
    peak_rss_mb: Math.round(fkd.peak_rss_mb),
    decoded_mb: Number(decodedMb.toFixed(1)),
    rss_over_decoded: Number((fkd.peak_rss_mb / decodedMb).toFixed(2)),
    runtime_rss_mb: Math.round(fkd.runtime_rss_mb!),
    reader_rss_over_decoded: Number((aboveRuntime / decodedMb).toFixed(2)),
    pandas_peak_rss_mb: Math.round(pandas.peak_rss_mb),
  }),
);
