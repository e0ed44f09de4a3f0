/**
 * fkd's entries in an ONNX model's metadata_props: what the model means (keypoint schema,
 * coordinate normalisation) and a marker that says the file is an fkd keypoint model.
 */
import type { ModelMetadata } from '../../models/file.js';
import type { ModelSpec } from '../../models/spec.js';
import type { StringStringEntryProto } from './proto.js';

/** The marker key and value that make an ONNX file "ours". */
export const FKD_FORMAT_KEY = 'fkd.format';
export const FKD_FORMAT = 'fkd-keypoint-model';
/** Bumped when the graph's input/output contract changes. */
export const FKD_FORMAT_VERSION = 1;

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'keypoints';

export const KEYS = {
  formatVersion: 'fkd.formatVersion',
  schema: 'fkd.schema',
  pointCount: 'fkd.pointCount',
  normalization: 'fkd.normalization',
  inputSize: 'fkd.inputSize',
  modelName: 'fkd.modelName',
  /** The model file's whole ModelMetadata as JSON (training provenance included). */
  metadata: 'fkd.metadata',
  /** The architecture spec the graph was exported from, as JSON. */
  spec: 'fkd.spec',
  /** SHA-256 (hex) of the encoded GraphProto: detects corrupted weights. */
  graphSha256: 'fkd.graphSha256',
} as const;

/** What fkd reads back from an exported model's metadata_props. */
export interface FkdOnnxInfo {
  formatVersion: number;
  schema: string;
  pointCount: number;
  normalization: ModelMetadata['normalization'];
  inputSize: number;
  modelName: string;
  metadata: ModelMetadata;
  spec?: ModelSpec;
  graphSha256: string;
}

export function metadataProps(spec: ModelSpec, metadata: ModelMetadata, graphSha256: string): StringStringEntryProto[] {
  const entries: Record<string, string> = {
    [FKD_FORMAT_KEY]: FKD_FORMAT,
    [KEYS.formatVersion]: String(FKD_FORMAT_VERSION),
    [KEYS.schema]: metadata.schema,
    [KEYS.pointCount]: String(metadata.pointCount),
    [KEYS.normalization]: metadata.normalization,
    [KEYS.inputSize]: String(spec.inputSize),
    [KEYS.modelName]: spec.name ?? '',
    [KEYS.metadata]: JSON.stringify(metadata),
    [KEYS.spec]: JSON.stringify(spec),
    [KEYS.graphSha256]: graphSha256,
  };
  return Object.entries(entries).map(([key, value]) => ({ key, value }));
}

/** Thrown when metadata_props are missing or do not describe a model fkd can run. */
export class NotFkdModelError extends Error {
  override name = 'NotFkdModelError';
}

/** Parses fkd's metadata_props; throws NotFkdModelError naming what is missing or wrong. */
export function parseMetadataProps(props: readonly StringStringEntryProto[]): FkdOnnxInfo {
  const map = new Map(props.map((p) => [p.key, p.value]));
  if (map.get(FKD_FORMAT_KEY) !== FKD_FORMAT) {
    throw new NotFkdModelError(`not an fkd keypoint model (its ONNX metadata has no "${FKD_FORMAT_KEY}: ${FKD_FORMAT}" entry); export one with "fkd export"`);
  }
  const text = (key: string): string => {
    const value = map.get(key);
    if (value === undefined) throw new NotFkdModelError(`fkd model metadata lacks "${key}"`);
    return value;
  };
  const positiveInt = (key: string): number => {
    const value = Number(text(key));
    if (!Number.isInteger(value) || value < 1) throw new NotFkdModelError(`fkd model metadata "${key}" must be a positive integer, got "${map.get(key)}"`);
    return value;
  };
  const formatVersion = positiveInt(KEYS.formatVersion);
  if (formatVersion !== FKD_FORMAT_VERSION) {
    throw new NotFkdModelError(`fkd ONNX format version ${formatVersion} is not supported (this fkd reads version ${FKD_FORMAT_VERSION})`);
  }
  const normalization = text(KEYS.normalization);
  if (normalization !== 'unit-v1') throw new NotFkdModelError(`unknown coordinate normalization "${normalization}" (this fkd knows unit-v1)`);
  const json = (key: string): unknown => {
    try {
      return JSON.parse(text(key));
    } catch {
      throw new NotFkdModelError(`fkd model metadata "${key}" is not valid JSON`);
    }
  };
  const metadata = json(KEYS.metadata) as ModelMetadata;
  if (typeof metadata !== 'object' || metadata === null) throw new NotFkdModelError(`fkd model metadata "${KEYS.metadata}" is not a JSON object`);
  const spec = map.has(KEYS.spec) ? (json(KEYS.spec) as ModelSpec) : undefined;
  const graphSha256 = text(KEYS.graphSha256);
  if (!/^[0-9a-f]{64}$/.test(graphSha256)) throw new NotFkdModelError(`fkd model metadata "${KEYS.graphSha256}" is not a SHA-256 hex digest`);
  return {
    formatVersion,
    schema: text(KEYS.schema),
    pointCount: positiveInt(KEYS.pointCount),
    normalization,
    inputSize: positiveInt(KEYS.inputSize),
    modelName: map.get(KEYS.modelName) ?? '',
    metadata,
    spec,
    graphSha256,
  };
}
