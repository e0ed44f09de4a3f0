import type { Command } from 'commander';
import { resolve } from 'node:path';
import { readKaggleCsv } from '../../data/kaggle/read.js';
import { computeStats, formatStats } from '../../data/stats.js';
import { selectRows } from '../../data/dataset.js';
import { renderContactSheet } from '../../viz/contact-sheet.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { UsageError } from '../../util/usage-error.js';
import { schemaOfSet } from '../../schema/index.js';
import { buildYtf15 } from '../../data/ytf15.js';
import { dataRoot } from '../../util/paths.js';
import { progressBar } from '../progress.js';
import { parseIntOption } from '../options.js';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('Inspect, convert and build keypoint data sets');

  data
    .command('stats')
    .description("Rows, complete rows and per-keypoint coverage of a Kaggle-format file (training.csv layout, or keypoints-only)")
    .argument('<file>', 'Kaggle-format CSV')
    .option('--json', 'print JSON instead of a table')
    .action(async (file: string, options: { json?: boolean }) => {
      const result = await readKaggleCsv(file, { labelsOnly: true });
      if (result.kind !== 'training') throw new UsageError(`${file}: a test.csv layout (ImageId,Image) has no keypoints; ${result.set.size} images`);
      const stats = computeStats(result.set, schemaOfSet(result.set));
      process.stdout.write(options.json ? JSON.stringify({ file, ...stats }, null, 2) + '\n' : `${file}\n${formatStats(stats)}\n`);
    });

  data
    .command('show')
    .description('Draw faces with their keypoints into a PNG contact sheet')
    .argument('<file>', 'Kaggle-format CSV (training.csv layout)')
    .requiredOption('-o, --out <png>', 'PNG file to write')
    .option('-n, --count <n>', 'how many faces', '16')
    .option('--start <row>', 'first row (0-based)', '0')
    .option('--columns <n>', 'faces per sheet row', '4')
    .option('--scale <k>', 'magnification of each 96x96 face', '3')
    .option('--complete', 'only faces with every keypoint present')
    .action(async (file: string, options: { out: string; count: string; start: string; columns: string; scale: string; complete?: boolean }) => {
      const count = parseIntOption('--count', options.count, 1, 400);
      const start = parseIntOption('--start', options.start, 0);
      const columns = parseIntOption('--columns', options.columns, 1, 40);
      const scale = parseIntOption('--scale', options.scale, 1, 8);
      const result = await readKaggleCsv(file);
      if (result.kind !== 'training') throw new UsageError(`${file}: a test.csv layout has no keypoints to draw`);
      const set = result.set;
      const stride = set.pointCount * 2;
      const rows: number[] = [];
      for (let r = start; r < set.size && rows.length < count; r++) {
        if (options.complete && set.keypoints.subarray(r * stride, (r + 1) * stride).some(Number.isNaN)) continue;
        rows.push(r);
      }
      if (rows.length === 0) throw new UsageError(`${file}: no faces to draw from row ${start} (${set.size} rows)`);
      const png = await renderContactSheet(selectRows(set, rows), schemaOfSet(set), { columns, scale, captions: rows.map((r) => `row ${r}`) });
      await writeFileAtomic(options.out, png);
      process.stdout.write(`wrote ${options.out}: ${rows.length} faces\n`);
    });

  data
    .command('build-ytf15')
    .description(
      'Build the YTF-15 benchmark data (Kaggle-format CSVs of 96x96 face crops) from the ytf68 landmark images; ' +
        'with --points 68, the same crops and split with all 68 iBUG 300-W points (schema ibug68)',
    )
    .requiredOption('-o, --out <dir>', 'folder to write training.csv, dev.csv, test.csv, unlabelled.csv, sources.csv, manifest.json')
    .option('--ytf68 <dir>', 'the ytf68 folder (default: $FKD_DATA/ytf68, $FKD_DATA defaulting to ../shared/data)')
    .option(
      '--points <n>',
      "keypoints per face: 15 (Kaggle's columns, the YTF-15 task) or 68 (every iBUG 300-W point, columns jaw_0_x … inner_lip_7_y, " +
        'all labels on every row, e.g. --out data/ytf68crop)',
      '15',
    )
    .option('--all-labels', "keep all 15 labels on the train split's kaggle_sparse rows (the full-label task; --points 68 always keeps every label)")
    .option('--full-size [file]', "also write a 7049-row Kaggle-format file with Kaggle's real label sparsity, for scale tests (default name kaggle_full_7049.csv)")
    .option('--kaggle-keypoints <file>', 'Kaggle training_keypoints.csv whose missing-label pattern --full-size copies (default: $FKD_DATA/kaggle/training_keypoints.csv)')
    .action(async (options: { out: string; ytf68?: string; points: string; allLabels?: boolean; fullSize?: string | boolean; kaggleKeypoints?: string }) => {
      if (options.points !== '15' && options.points !== '68') throw new UsageError(`--points must be 15 or 68, got "${options.points}"`);
      const points = options.points === '68' ? 68 : 15;
      if (points === 68 && options.fullSize) throw new UsageError("--full-size copies Kaggle's 15-point label sparsity; it cannot be combined with --points 68");
      const ytfDir = resolve(options.ytf68 ?? resolve(dataRoot(), 'ytf68'));
      const bar = progressBar('faces');
      const fullSizeName = options.fullSize === true ? 'kaggle_full_7049.csv' : options.fullSize || undefined;
      try {
        const summary = await buildYtf15({
          ytfDir,
          outDir: resolve(options.out),
          allLabels: options.allLabels === true,
          points,
          fullSizeFile: fullSizeName,
          kaggleKeypointsFile: options.kaggleKeypoints ?? resolve(dataRoot(), 'kaggle', 'training_keypoints.csv'),
          onProgress: (done, total) => bar.update(done, total),
        });
        bar.stop();
        for (const [name, rows] of Object.entries(summary.files)) process.stdout.write(`${resolve(options.out, name)}: ${rows} rows\n`);
      } finally {
        bar.stop();
      }
    });
}
