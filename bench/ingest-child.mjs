// Measured side of bench:ingest, in its own process so that peak RSS is the reader's alone.
import { readKaggleTraining } from '../dist/data/kaggle/read.js';

const runtimeRssMb = process.memoryUsage().rss / 2 ** 20; // Node itself, before reading
const start = performance.now();
const set = await readKaggleTraining(process.argv[2]);
const seconds = (performance.now() - start) / 1000;
let missing = 0;
for (const v of set.keypoints) if (Number.isNaN(v)) missing++;
console.log(JSON.stringify({
  rows: set.size,
  seconds,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  runtime_rss_mb: runtimeRssMb,
  decoded_mb: (set.images.byteLength + set.keypoints.byteLength) / 2 ** 20,
  missing,
}));
