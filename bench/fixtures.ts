import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildYtf15 } from '../src/data/ytf15.js';
import { PACKAGE_ROOT, dataRoot } from '../src/util/paths.js';

/** The 7049-row Kaggle-size file, built once from shared data into .tmp/bench and reused. */
export async function ensureFullSizeFile(): Promise<string> {
  const dir = resolve(PACKAGE_ROOT, '.tmp', 'bench', 'ytf15');
  const file = resolve(dir, 'kaggle_full_7049.csv');
  if (existsSync(file)) return file;
  const ytfDir = resolve(dataRoot(), 'ytf68');
  if (!existsSync(ytfDir)) throw new Error(`this benchmark needs the shared data: ${ytfDir} not found (set FKD_DATA)`);
  console.log(`building ${file} (once) …`);
  await buildYtf15({
    ytfDir,
    outDir: dir,
    fullSizeFile: 'kaggle_full_7049.csv',
    kaggleKeypointsFile: resolve(dataRoot(), 'kaggle', 'training_keypoints.csv'),
  });
  return file;
}
