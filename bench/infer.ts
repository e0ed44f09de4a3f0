/**
 * Inference benchmark, all in one run:
 *  (a) per-face keypoint inference: KeypointModel against a bare onnxruntime session on the
 *      same model and input tensors (throughput at batch 64 and one-face latency; overhead %);
 *  (b) the photo pipeline (decode + detect + keypoints) in photos/s on ytf68 test-split photos,
 *      beside face-api.js (detect + 68 landmarks, tfjs-wasm) on the same photos, alternating in
 *      chunks so that background load hits both alike; ours also at one thread, as face-api has;
 *  (c) detection rate on those photos: the labelled face counts as found when some result's
 *      crop box overlaps the protocol box with IoU ≥ DETECTION_IOU. For face-api the protocol
 *      box is built from its 68 points, the way the labels' is. Both sides' YTF-15 RMSE (crop
 *      pixels of the true box) on the faces they found is reported too.
 *
 *   npm run bench:infer
 *   BENCH_PHOTOS=all npm run bench:infer     (all 860 labelled test-split photos; default 200)
 *   BENCH_THREADS (default: every core), BENCH_FACES (default 512), BENCH_MODEL (default models/default.onnx),
 *   BENCH_FACEAPI_MIN_CONFIDENCE (face-api's SSD threshold, default its own 0.5)
 *
 * The last line printed is one JSON object.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { cropFace, imagePointsToCrop, protocolFaceBox, type FaceBox } from '../src/data/crop.js';
import { decodeGrey } from '../src/data/image.js';
import { readYtf68, type Ytf68Labelled } from '../src/data/landmarks/ytf68.js';
import { DETECTION_IOU, squareIou } from '../src/inference/detector/index.js';
import { DEFAULT_MODEL_FILE, KeypointPipeline } from '../src/inference/pipeline.js';
import { mapPoints, YTF15_MAPPING } from '../src/schema/index.js';
import { findDataDir } from '../src/util/paths.js';
import { FACEAPI_DEFAULT_MIN_CONFIDENCE, loadFaceApi, type FaceApiPeer } from './infer-faceapi.js';
import { benchKeypoints } from './infer-keypoints.js';

const TEST_SPLIT_PHOTOS = 860;
const photosSetting = process.env.BENCH_PHOTOS ?? '200';
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const faceCount = Number(process.env.BENCH_FACES ?? 512);
const modelFile = process.env.BENCH_MODEL ?? DEFAULT_MODEL_FILE;
const faceApiMinConfidence = Number(process.env.BENCH_FACEAPI_MIN_CONFIDENCE ?? FACEAPI_DEFAULT_MIN_CONFIDENCE);
/** Photos per side before switching to the other. */
const CHUNK = 20;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const round = (v: number, digits = 2): number => Number(v.toFixed(digits));

/** `count` photos spread evenly over the split (the label file groups frames by identity). */
function spread<T>(items: readonly T[], count: number): T[] {
  if (count >= items.length) return [...items];
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]);
}

/** RMSE of 15 YTF-15 image points against the labels, in crop pixels of the true box. */
function cropRmse(predicted: ArrayLike<number>, truth: ArrayLike<number>, box: FaceBox): number {
  const a = imagePointsToCrop(box, predicted);
  const b = imagePointsToCrop(box, truth);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum / a.length);
}

/** The candidate box overlapping `truth` most, if it reaches DETECTION_IOU. */
function matchIndex(boxes: readonly FaceBox[], truth: FaceBox): number {
  let best = -1;
  let bestIou = DETECTION_IOU;
  boxes.forEach((box, i) => {
    const iou = squareIou(box, truth);
    if (iou >= bestIou) {
      best = i;
      bestIou = iou;
    }
  });
  return best;
}

interface SideTally {
  ms: number[];
  /** Per photo (in order), the labelled face's RMSE, or undefined where it was not found. */
  rmse: (number | undefined)[];
}

function newTally(): SideTally {
  return { ms: [], rmse: [] };
}

function record(tally: SideTally, ms: number, rmse: number | undefined): void {
  tally.ms.push(ms);
  tally.rmse.push(rmse);
}

const foundCount = (tally: SideTally): number => tally.rmse.filter((r) => r !== undefined).length;

/** RMSE over the photos `where` says (default: every photo whose face this side found). */
function pooledRmse(tally: SideTally, where: (i: number) => boolean = () => true): number {
  let sum = 0;
  let n = 0;
  tally.rmse.forEach((r, i) => {
    if (r === undefined || !where(i)) return;
    sum += r * r;
    n++;
  });
  return Math.sqrt(sum / Math.max(1, n));
}

async function runPipeline(pipeline: KeypointPipeline, bytes: Uint8Array, image: Ytf68Labelled, tally: SideTally): Promise<void> {
  const started = performance.now();
  const result = await pipeline.detect(bytes);
  const ms = performance.now() - started;
  const k = matchIndex(result.faces.map((f) => f.cropBox), image.box);
  const rmse = k < 0 ? undefined : cropRmse(result.faces[k].keypoints.flatMap((p) => [p.x, p.y]), mapPoints(YTF15_MAPPING, image.points), image.box);
  record(tally, ms, rmse);
}

async function runFaceApi(peer: FaceApiPeer, bytes: Uint8Array, image: Ytf68Labelled, tally: SideTally): Promise<void> {
  const started = performance.now();
  const faces = await peer.detect(bytes);
  const ms = performance.now() - started;
  const k = matchIndex(faces.map((f) => protocolFaceBox(f.points)), image.box);
  const rmse = k < 0 ? undefined : cropRmse(mapPoints(YTF15_MAPPING, faces[k].points), mapPoints(YTF15_MAPPING, image.points), image.box);
  record(tally, ms, rmse);
}

async function main(): Promise<void> {
  const root = findDataDir('ytf68');
  if (!root) throw new Error('bench:infer needs the shared ytf68 data (set FKD_DATA to the shared data folder)');
  const test = (await readYtf68(root)).labelled.filter((image) => image.split === 'test');
  if (test.length !== TEST_SPLIT_PHOTOS) console.log(`note: ${test.length} labelled test-split photos (expected ${TEST_SPLIT_PHOTOS})`);
  const count = photosSetting === 'all' ? test.length : Number(photosSetting);
  if (!Number.isInteger(count) || count < 1) throw new Error(`BENCH_PHOTOS must be a positive integer or "all", got "${photosSetting}"`);
  const photos = spread(test, count);
  const bytes = await Promise.all(photos.map((image) => readFile(join(root, image.path))));
  console.log(`bench:infer: ${photos.length} ytf68 test-split photos, ${threads} threads, model ${modelFile}; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`);

  // (a) Per-face inference on protocol crops of the photos' labelled faces, cycled to BENCH_FACES.
  const crops = await Promise.all(spread(test, Math.min(faceCount, test.length)).map(async (image) => cropFace(await decodeGrey(join(root, image.path)), image.box)));
  const faces = new Uint8Array(faceCount * crops[0].length);
  for (let i = 0; i < faceCount; i++) faces.set(crops[i % crops.length], i * crops[0].length);
  const keypoints = await benchKeypoints({ modelFile, faces, threads, batchSize: 64, repeats: 7, latencyRuns: 60 });
  console.log(
    `(a) keypoints: ${keypoints.faces_per_s.toFixed(0)} faces/s vs bare onnxruntime ${keypoints.ort_faces_per_s.toFixed(0)} (overhead ${keypoints.overhead_pct.toFixed(1)} %); ` +
      `one face ${keypoints.latency_ms.toFixed(2)} ms vs ${keypoints.ort_latency_ms.toFixed(2)} ms`,
  );

  // (b), (c) Photos: ours at BENCH_THREADS and at one thread, face-api, in alternating chunks.
  const pipeline = await KeypointPipeline.load({ model: modelFile, threads });
  const single = await KeypointPipeline.load({ model: modelFile, threads: 1 });
  const peer = await loadFaceApi(faceApiMinConfidence);
  console.log(`peer: ${peer.description}`);
  const warm = newTally();
  for (const i of [0, 1, 2]) {
    await runPipeline(pipeline, bytes[i % bytes.length], photos[i % photos.length], warm);
    await runPipeline(single, bytes[i % bytes.length], photos[i % photos.length], warm);
    await runFaceApi(peer, bytes[i % bytes.length], photos[i % photos.length], warm);
  }
  const tensorsAfterWarmUp = peer.tensors();
  const ours = newTally();
  const oursSingle = newTally();
  const theirs = newTally();
  const cpuStarted = process.cpuUsage();
  let oursCpuMs = 0;
  for (let begin = 0; begin < photos.length; begin += CHUNK) {
    const end = Math.min(photos.length, begin + CHUNK);
    const cpu = process.cpuUsage();
    for (let i = begin; i < end; i++) await runPipeline(pipeline, bytes[i], photos[i], ours);
    const used = process.cpuUsage(cpu);
    oursCpuMs += (used.user + used.system) / 1000;
    for (let i = begin; i < end; i++) await runPipeline(single, bytes[i], photos[i], oursSingle);
    for (let i = begin; i < end; i++) await runFaceApi(peer, bytes[i], photos[i], theirs);
    process.stdout.write(`\r  photos ${end}/${photos.length}`);
  }
  process.stdout.write('\n');
  const totalCpu = process.cpuUsage(cpuStarted);
  await Promise.all([pipeline.close(), single.close()]);
  if (peer.tensors() !== tensorsAfterWarmUp) console.log(`note: face-api left ${peer.tensors() - tensorsAfterWarmUp} tensors behind`);

  const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
  const photosPerS = (tally: SideTally): number => (tally.ms.length / sum(tally.ms)) * 1000;
  // Faces face-api found are the easier ones: compare accuracy on those photos too.
  const rmseOnFaceApiFound = pooledRmse(ours, (i) => theirs.rmse[i] !== undefined);
  const photosPerSecond = photosPerS(ours);
  const faceapiPerSecond = photosPerS(theirs);
  const singlePerSecond = photosPerS(oursSingle);
  const detectionRate = foundCount(ours) / photos.length;
  console.log(
    `(b) photos: ours ${photosPerSecond.toFixed(1)} photos/s (${threads} threads; median ${median(ours.ms).toFixed(1)} ms, p95 ${percentile(ours.ms, 0.95).toFixed(1)} ms), ` +
      `ours at 1 thread ${singlePerSecond.toFixed(1)}, face-api ${faceapiPerSecond.toFixed(1)} photos/s (median ${median(theirs.ms).toFixed(1)} ms): ` +
      `${(photosPerSecond / faceapiPerSecond).toFixed(1)}x, ${(singlePerSecond / faceapiPerSecond).toFixed(1)}x at equal threads`,
  );
  console.log(
    `(c) detection: ours ${foundCount(ours)}/${photos.length} = ${(100 * detectionRate).toFixed(2)} % (IoU >= ${DETECTION_IOU}), face-api ${foundCount(theirs)}/${photos.length}; ` +
      `YTF-15 RMSE on found faces: ours ${pooledRmse(ours).toFixed(2)} crop px; on the photos face-api found: ours ${rmseOnFaceApiFound.toFixed(2)}, face-api ${pooledRmse(theirs).toFixed(2)}`,
  );
  console.log(
    JSON.stringify({
      faces_per_s: round(keypoints.faces_per_s, 1),
      ort_faces_per_s: round(keypoints.ort_faces_per_s, 1),
      overhead_pct: round(keypoints.overhead_pct),
      photos_per_s: round(photosPerSecond),
      faceapi_photos_per_s: round(faceapiPerSecond),
      speedup_vs_faceapi: round(photosPerSecond / faceapiPerSecond),
      detection_rate: round(detectionRate, 4),
      latency_ms: round(keypoints.latency_ms, 3),
      ort_latency_ms: round(keypoints.ort_latency_ms, 3),
      photo_median_ms: round(median(ours.ms)),
      photo_p95_ms: round(percentile(ours.ms, 0.95)),
      photos_per_s_1_thread: round(singlePerSecond),
      speedup_vs_faceapi_same_threads: round(singlePerSecond / faceapiPerSecond),
      photos_per_cpu_s: round((ours.ms.length / oursCpuMs) * 1000),
      faceapi_detection_rate: round(foundCount(theirs) / photos.length, 4),
      rmse_crop_px: round(pooledRmse(ours), 3),
      rmse_crop_px_where_faceapi_found: round(rmseOnFaceApiFound, 3),
      faceapi_rmse_crop_px: round(pooledRmse(theirs), 3),
      photos: photos.length,
      threads,
      faceapi: peer.description,
      load_average: round(loadavg()[0], 1),
      cpu_s: round((totalCpu.user + totalCpu.system) / 1e6, 1),
    }),
  );
}

await main();
