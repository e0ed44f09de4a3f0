/**
 * Fit the detector → protocol box mapping on the ytf68 train split, evaluate it on dev and
 * test, and write src/inference/detector/box-mapping.json.
 *
 *   node --import tsx scripts/fit-box-mapping.ts [--variant back|front]   fit one network's mapping
 *   node --import tsx scripts/fit-box-mapping.ts --check                  evaluate the default detector
 *
 * --check runs the detector as shipped (all default networks, stored mappings) on dev and test
 * and writes nothing.
 * Detection rate: a labelled image counts as found when one of its detections' predicted
 * protocol squares overlaps the true one with IoU ≥ 0.5 (protocol-match.ts).
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage } from '../src/data/image.js';
import type { FaceBox } from '../src/data/crop.js';
import { readYtf68, type Ytf68Labelled, type Ytf68Split } from '../src/data/landmarks/ytf68.js';
import { findDataDir, PACKAGE_ROOT } from '../src/util/paths.js';
import { DEFAULT_VARIANTS, FaceDetector, type DetectedFace } from '../src/inference/detector/face-detector.js';
import { mapToProtocolBox, type BoxMapping } from '../src/inference/detector/box-mapping.js';
import { fitBoxMapping, type MappingSample } from '../src/inference/detector/fit-mapping.js';
import { bestMatch, boxErrors, DETECTION_IOU, squareIou } from '../src/inference/detector/protocol-match.js';
import { BLAZEFACE_MODELS, type BlazeFaceVariant } from '../src/inference/detector/blazeface-model.js';

const MAPPING_FILE = resolve(PACKAGE_ROOT, 'src', 'inference', 'detector', 'box-mapping.json');
/** Pairing detections with labels for the fit: the detector box grown to the protocol's margin must overlap the truth this much. */
const PAIRING_IOU = 0.3;
/** Samples with a residual above this many RMS are dropped before the final fit (mispaired or broken detections). */
const TRIM_SIGMAS = 5;

interface ImageResult {
  readonly image: Ytf68Labelled;
  readonly faces: DetectedFace[];
  readonly detectMs: number;
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

/** The detector box grown to the protocol's margin around its centre (for pairing before any fit). */
function naiveProtocolBox(face: DetectedFace): FaceBox {
  const { x, y, width, height } = face.box;
  return { cx: x + width / 2, cy: y + height / 2, s: 1.25 * Math.max(width, height) };
}

async function detectAll(detector: FaceDetector, root: string, images: readonly Ytf68Labelled[]): Promise<ImageResult[]> {
  const results: ImageResult[] = [];
  for (const image of images) {
    const pixels = await decodeImage(join(root, image.path));
    const start = performance.now();
    const faces = await detector.detect(pixels);
    results.push({ image, faces, detectMs: performance.now() - start });
    if (results.length % 500 === 0) process.stderr.write(`  ${results.length}/${images.length}\n`);
  }
  return results;
}

function trainingSamples(results: readonly ImageResult[]): MappingSample[] {
  const samples: MappingSample[] = [];
  for (const { image, faces } of results) {
    const k = bestMatch(faces.map(naiveProtocolBox), image.box, PAIRING_IOU);
    if (k >= 0) samples.push({ box: faces[k].box, landmarks: faces[k].landmarks, truth: image.box });
  }
  return samples;
}

/** Detection rate and box errors; `protocolBoxes` gives each detection's predicted protocol box. */
function evaluate(results: readonly ImageResult[], protocolBoxes: (faces: DetectedFace[]) => FaceBox[]) {
  const centre: number[] = [];
  const scale: number[] = [];
  const ious: number[] = [];
  const missed: string[] = [];
  let extraDetections = 0;
  for (const { image, faces } of results) {
    const boxes = protocolBoxes(faces);
    const k = bestMatch(boxes, image.box, DETECTION_IOU);
    extraDetections += faces.length - (k >= 0 ? 1 : 0);
    if (k < 0) {
      missed.push(`${image.path} (${faces.length} detections${faces.length ? `, best IoU ${Math.max(...boxes.map((b) => squareIou(b, image.box))).toFixed(2)}` : ''})`);
      continue;
    }
    const e = boxErrors(boxes[k], image.box);
    centre.push(e.centreError);
    scale.push(e.scaleRatio);
    ious.push(squareIou(boxes[k], image.box));
  }
  return {
    images: results.length,
    found: centre.length,
    detection_rate: round(centre.length / results.length),
    extra_detections: extraDetections,
    centre_error_over_s: { median: round(quantile(centre, 0.5)), p90: round(quantile(centre, 0.9)), p99: round(quantile(centre, 0.99)), max: round(Math.max(...centre)) },
    scale_ratio: { p1: round(quantile(scale, 0.01)), median: round(quantile(scale, 0.5)), p99: round(quantile(scale, 0.99)), rms_log: round(Math.sqrt(scale.reduce((s, r) => s + Math.log(r) ** 2, 0) / scale.length)) },
    iou: { p1: round(quantile(ious, 0.01)), median: round(quantile(ious, 0.5)) },
    missed,
  };
}

/** Indented JSON with arrays of numbers or strings kept on one line. */
function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\n\s*((?:(?:-?[\d.e+-]+|"[^"\n]*"),?\n\s*)+)\]/g, (_, body: string) => `[${body.trim().split(/,\n\s*/).join(', ')}]`) + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { variant: { type: 'string', default: 'back' }, check: { type: 'boolean', default: false } } });
  const variant = values.variant as BlazeFaceVariant;
  if (variant !== 'back' && variant !== 'front') throw new Error(`--variant should be back or front, not ${variant}`);
  const root = findDataDir('ytf68');
  if (!root) throw new Error('ytf68 not found under the shared data folder (set FKD_DATA)');
  const data = await readYtf68(root);
  const detector = await FaceDetector.load({ variants: values.check ? DEFAULT_VARIANTS : [variant], threads: 2 });
  const name = detector.variants.join('+');
  const ofSplit = (split: Ytf68Split) => data.labelled.filter((l) => l.split === split);

  const results: Partial<Record<Ytf68Split, ImageResult[]>> = {};
  for (const split of ['train', 'dev', 'test'] as const) {
    if (split === 'train' && values.check) continue;
    process.stderr.write(`detecting faces in ${ofSplit(split).length} labelled ${split} images (${name})\n`);
    results[split] = await detectAll(detector, root, ofSplit(split));
  }
  await detector.close();

  const file = JSON.parse(readFileSync(MAPPING_FILE, 'utf8')) as { about: string; variants: Record<string, Record<string, unknown>> };
  let protocolBoxes = (faces: DetectedFace[]) => faces.map((f) => f.protocolBox);
  let stored: Record<string, unknown> = {};
  if (!values.check) {
    const paired = trainingSamples(results.train!);
    const first = fitBoxMapping(paired);
    // One trimmed refit, so that a mispaired face cannot pull the coefficients.
    const kept = paired.filter((sample) => {
      const box = mapToProtocolBox(first.mapping, sample.box, sample.landmarks);
      const size = (sample.box.width + sample.box.height) / 2;
      return (
        Math.abs(box.cx - sample.truth.cx) / size <= TRIM_SIGMAS * first.residuals.cx.rms &&
        Math.abs(box.cy - sample.truth.cy) / size <= TRIM_SIGMAS * first.residuals.cy.rms &&
        Math.abs(box.s - sample.truth.s) / size <= TRIM_SIGMAS * first.residuals.s.rms
      );
    });
    const fit = fitBoxMapping(kept);
    const mapping: BoxMapping = { features: fit.mapping.features, cx: fit.mapping.cx.map((c) => round(c, 6)), cy: fit.mapping.cy.map((c) => round(c, 6)), s: fit.mapping.s.map((c) => round(c, 6)) };
    const residual = (r: { rms: number; maxAbs: number }) => ({ rms: round(r.rms), max_abs: round(r.maxAbs) });
    stored = {
      network: { file: basename(BLAZEFACE_MODELS[variant].file), score_threshold: BLAZEFACE_MODELS[variant].defaultScoreThreshold },
      fitted_on: {
        split: 'ytf68 train (labelled)',
        images: results.train!.length,
        paired: paired.length,
        pairing: `detector box grown to 1.25x its larger side, IoU >= ${PAIRING_IOU} with the true protocol box`,
        trimmed: paired.length - kept.length,
        trimming: `samples with a residual above ${TRIM_SIGMAS} RMS of the first fit dropped, then refitted`,
        residuals_in_units_of_D: { cx: residual(fit.residuals.cx), cy: residual(fit.residuals.cy), s: residual(fit.residuals.s) },
      },
      mapping,
    };
    protocolBoxes = (faces) => faces.map((f) => mapToProtocolBox(mapping, f.box, f.landmarks));
  }

  const evaluation: Record<string, unknown> = {};
  for (const split of ['dev', 'test'] as const) {
    const { missed, ...summary } = evaluate(results[split]!, protocolBoxes);
    evaluation[split] = summary;
    process.stderr.write(`${split}: ${JSON.stringify(summary)}\n`);
    if (missed.length) process.stderr.write(`  missed: ${missed.join('; ')}\n`);
  }
  const test = results.test!;
  const detectMs = test.reduce((s, r) => s + r.detectMs, 0) / test.length;
  process.stderr.write(`speed (${name}): ${detectMs.toFixed(1)} ms per test image in detect() (decode excluded), ${(1000 / detectMs).toFixed(1)} images/s, 2 threads\n`);

  if (!values.check) {
    stored.evaluation = { rule: `found = a detection whose mapped protocol box has IoU >= ${DETECTION_IOU} with the true one`, ...evaluation };
    file.variants[variant] = stored;
    writeFileSync(MAPPING_FILE, formatJson(file));
    process.stderr.write(`wrote ${MAPPING_FILE}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
