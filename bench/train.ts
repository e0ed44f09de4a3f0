/**
 * Training throughput of the fkd engine against PyTorch 1.13 on the reference network
 * (batch 64, same thread count, synthetic data), in one run.
 *
 *   npm run bench:train [-- --threads N --images N --epochs N --repeats N --channels-last]
 *
 * Prints both img/s figures and the ratio; the last line is one JSON object
 * { fkd_img_s, torch_img_s, ratio, peak_rss_mb, ... }.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nativeEngine, setEngineThreads } from '../src/engine/native.js';
import { namedSpec } from '../src/models/spec.js';
import { TorchModel } from '../src/models/torch-model.js';
import { FACE_PIXELS } from '../src/data/dataset.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: String(availableParallelism()) },
    batch: { type: 'string', default: '64' },
    images: { type: 'string', default: '384' },
    epochs: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '2' },
    'channels-last': { type: 'boolean', default: false },
    python: { type: 'string', default: process.env.FKD_BENCH_PYTHON ?? '/usr/bin/python3' },
  },
});
const threads = Number(values.threads);
const batch = Number(values.batch);
const imageCount = Number(values.images);
const epochs = Number(values.epochs);
const repeats = Number(values.repeats);
const channelsLast = values['channels-last'];

/** Same synthetic data recipe as the peer: random pixels, random targets in the image. */
function syntheticData(): { images: Uint8Array; keypoints: Float32Array } {
  let s = 12345;
  const next = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const images = Uint8Array.from({ length: imageCount * FACE_PIXELS }, () => Math.floor(next() * 256));
  const keypoints = Float32Array.from({ length: imageCount * 30 }, () => next() * 96);
  return { images, keypoints };
}

/** Wall-clock images per second, and images per CPU-second (less sensitive to other load on the machine). */
async function fkdImagesPerSecond(): Promise<{ img_s: number; img_per_cpu_s: number }> {
  setEngineThreads(threads);
  const engine = nativeEngine();
  const { images, keypoints } = syntheticData();
  const data = new engine.NativeDataset(images, keypoints, imageCount, 15, 96);
  const model = TorchModel.create(namedSpec('reference')!, { schema: 'kaggle15', pointCount: 15, normalization: 'unit-v1' }, { seed: 1, channelsLast });
  model.native.setOptimizer({ type: 'adam', learningRate: 1e-3 });
  await model.native.trainEpoch(data, { epoch: 0, batchSize: batch }); // warm-up, as in the peer
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  let done = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) done += (await model.native.trainEpoch(data, { epoch, batchSize: batch })).images;
  const cpu = process.cpuUsage(cpuStarted);
  return { img_s: done / (Number(process.hrtime.bigint() - started) / 1e9), img_per_cpu_s: done / ((cpu.user + cpu.system) / 1e6) };
}

function torchImagesPerSecond(): { img_s: number; img_per_cpu_s: number; torch: string; peak_rss_mb: number } {
  const args = [join(PACKAGE_ROOT, 'bench', 'train_torch.py'), '--threads', String(threads), '--batch', String(batch), '--images', String(imageCount), '--epochs', String(epochs)];
  if (channelsLast) args.push('--channels-last');
  const out = execFileSync(values.python!, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

console.log(`reference net, batch ${batch}, ${threads} threads, ${imageCount} synthetic faces x ${epochs} epochs (+1 warm-up), ${repeats} repeats${channelsLast ? ', channels-last' : ''}`);
console.log(`fkd libtorch ${nativeEngine().libtorchVersion()}`);
const fkdRuns: number[] = [];
const torchRuns: number[] = [];
const fkdCpuRuns: number[] = [];
const torchCpuRuns: number[] = [];
let torchVersion = '';
let torchPeak = 0;
// Alternate the two so that load from other processes hits both alike.
for (let r = 0; r < repeats; r++) {
  const ours = await fkdImagesPerSecond();
  fkdRuns.push(ours.img_s);
  fkdCpuRuns.push(ours.img_per_cpu_s);
  const peer = torchImagesPerSecond();
  torchRuns.push(peer.img_s);
  torchCpuRuns.push(peer.img_per_cpu_s);
  torchVersion = peer.torch;
  torchPeak = Math.max(torchPeak, peer.peak_rss_mb);
  console.log(
    `  repeat ${r + 1}: fkd ${fkdRuns[r].toFixed(1)} img/s (${fkdCpuRuns[r].toFixed(1)} per CPU-s), PyTorch ${torchRuns[r].toFixed(1)} img/s (${torchCpuRuns[r].toFixed(1)} per CPU-s)`,
  );
}
const fkd = median(fkdRuns);
const torch = median(torchRuns);
const peakRssMb = process.resourceUsage().maxRSS / 1024;
console.log(`fkd:     ${fkd.toFixed(1)} img/s (median)`);
console.log(`PyTorch: ${torch.toFixed(1)} img/s (median, torch ${torchVersion}, peak RSS ${torchPeak.toFixed(0)} MB)`);
const cpuRatio = median(fkdCpuRuns) / median(torchCpuRuns);
console.log(`ratio fkd/PyTorch: ${(fkd / torch).toFixed(3)} wall-clock, ${cpuRatio.toFixed(3)} per CPU-second`);
console.log(
  JSON.stringify({
    fkd_img_s: Number(fkd.toFixed(2)),
    torch_img_s: Number(torch.toFixed(2)),
    ratio: Number((fkd / torch).toFixed(4)),
    peak_rss_mb: Number(peakRssMb.toFixed(1)),
    torch_peak_rss_mb: Number(torchPeak.toFixed(1)),
    fkd_img_per_cpu_s: Number(median(fkdCpuRuns).toFixed(2)),
    torch_img_per_cpu_s: Number(median(torchCpuRuns).toFixed(2)),
    cpu_ratio: Number(cpuRatio.toFixed(4)),
    threads,
    batch,
    channels_last: channelsLast,
  }),
);
