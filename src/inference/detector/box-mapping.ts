/**
 * From the detector's box and landmarks to the YTF-15 protocol box (the square the keypoint
 * models were trained on: side 1.25 · max extent of the 68 points, centred on their bounding
 * box). A linear model in scale-free features, fitted by least squares on the ytf68 train
 * split (scripts/fit-box-mapping.ts), stored in box-mapping.json (one per detector variant):
 *
 *   cx = bx + D · Σ a_i f_i      cy = by + D · Σ b_i f_i      s = D · Σ c_i f_i
 *
 * where (bx, by) is the detector box's centre, D = (width + height) / 2 its size, and the
 * features f_i are landmark offsets and distances divided by D (so a face's mapping does not
 * depend on its size in pixels, and the fit's residuals are relative to the face).
 */
import type { FaceBox } from '../../data/crop.js';
import type { BlazeFaceVariant } from './blazeface-model.js';
import fitted from './box-mapping.json' with { type: 'json' };

export interface DetectorBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

interface P {
  readonly x: number;
  readonly y: number;
}

/** The landmarks the mapping reads (a subset of FaceLandmarks). */
export interface MappingLandmarks {
  readonly rightEye: P;
  readonly leftEye: P;
  readonly noseTip: P;
  readonly mouthCentre: P;
}

/** Feature names, in the order of the coefficient vectors. */
export const MAPPING_FEATURES = [
  'one',
  'eyes_dx',
  'eyes_dy',
  'nose_dx',
  'nose_dy',
  'mouth_dx',
  'mouth_dy',
  'eye_distance',
  'eyes_to_mouth',
  'box_aspect',
] as const;

export type MappingFeature = (typeof MAPPING_FEATURES)[number];

export interface BoxMapping {
  readonly features: readonly string[];
  /** Coefficients (one per feature) for (cx − bx)/D, (cy − by)/D and s/D. */
  readonly cx: readonly number[];
  readonly cy: readonly number[];
  readonly s: readonly number[];
}

/** The scale-free features of one detection (order of MAPPING_FEATURES), and its centre and size. */
export function mappingFeatures(box: DetectorBox, lm: MappingLandmarks): { features: number[]; bx: number; by: number; size: number } {
  const bx = box.x + box.width / 2;
  const by = box.y + box.height / 2;
  const size = (box.width + box.height) / 2;
  const eyesX = (lm.rightEye.x + lm.leftEye.x) / 2;
  const eyesY = (lm.rightEye.y + lm.leftEye.y) / 2;
  const features = [
    1,
    (eyesX - bx) / size,
    (eyesY - by) / size,
    (lm.noseTip.x - bx) / size,
    (lm.noseTip.y - by) / size,
    (lm.mouthCentre.x - bx) / size,
    (lm.mouthCentre.y - by) / size,
    Math.hypot(lm.leftEye.x - lm.rightEye.x, lm.leftEye.y - lm.rightEye.y) / size,
    Math.hypot(lm.mouthCentre.x - eyesX, lm.mouthCentre.y - eyesY) / size,
    box.width / box.height - 1,
  ];
  return { features, bx, by, size };
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** The protocol box predicted for one detection. */
export function mapToProtocolBox(mapping: BoxMapping, box: DetectorBox, landmarks: MappingLandmarks): FaceBox {
  const { features, bx, by, size } = mappingFeatures(box, landmarks);
  return {
    cx: bx + size * dot(mapping.cx, features),
    cy: by + size * dot(mapping.cy, features),
    s: size * dot(mapping.s, features),
  };
}

/** Check a mapping read from JSON: same features in the same order, one finite coefficient each. */
export function parseBoxMapping(json: unknown, source: string): BoxMapping {
  const m = json as Partial<BoxMapping>;
  const same = Array.isArray(m.features) && m.features.length === MAPPING_FEATURES.length && m.features.every((f, i) => f === MAPPING_FEATURES[i]);
  if (!same) throw new Error(`${source}: features should be ${MAPPING_FEATURES.join(', ')}`);
  for (const key of ['cx', 'cy', 's'] as const) {
    const c = m[key];
    if (!Array.isArray(c) || c.length !== MAPPING_FEATURES.length || !c.every(Number.isFinite)) {
      throw new Error(`${source}: "${key}" should be ${MAPPING_FEATURES.length} finite coefficients`);
    }
  }
  return { features: m.features!, cx: m.cx!, cy: m.cy!, s: m.s! };
}

/** The mappings fitted on the ytf68 train split, one per BlazeFace variant. */
export const FITTED_BOX_MAPPINGS: Readonly<Record<BlazeFaceVariant, BoxMapping>> = {
  back: parseBoxMapping(fitted.variants.back.mapping, 'box-mapping.json, variants.back'),
  front: parseBoxMapping(fitted.variants.front.mapping, 'box-mapping.json, variants.front'),
};
