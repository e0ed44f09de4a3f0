/**
 * What a photo result says about the keypoint model that produced it: name, version, schema,
 * point names, file, and the model card beside the ONNX file when there is one. Nothing here
 * loads onnxruntime, so the CLI can name the default model without paying for it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InputError } from '../../data/errors.js';
import { schemaByName } from '../../schema/index.js';
import { PACKAGE_ROOT } from '../../util/paths.js';
import type { FkdOnnxInfo } from '../onnx/metadata.js';

/** The bundled keypoint model, used when no other is given. */
export const DEFAULT_MODEL_FILE = resolve(PACKAGE_ROOT, 'models', 'default.onnx');

export interface PipelineModelInfo {
  readonly name: string;
  readonly version: string;
  readonly schema: string;
  readonly points: readonly string[];
  /** Absolute path of the ONNX file. */
  readonly file: string;
  /** models/<name>.card.json (parsed) or .card.md (text) beside the ONNX file, if present. */
  readonly card?: unknown;
}

/**
 * Point names: the schema's when fkd knows it and the count agrees, else `point_0`, `point_1`, …
 * (a model with a schema this fkd does not know still runs; its points just have no names).
 */
export function pointNames(info: Pick<FkdOnnxInfo, 'schema' | 'pointCount'>): string[] {
  try {
    const schema = schemaByName(info.schema);
    if (schema.points.length === info.pointCount) return [...schema.points];
  } catch {
    // Unknown schema: fall through to generic names.
  }
  return Array.from({ length: info.pointCount }, (_, i) => `point_${i}`);
}

/** The card files looked for, in order: by the ONNX file's stem, then by the model's name. */
function cardCandidates(file: string, modelName: string): string[] {
  const dir = dirname(file);
  const stems = [...new Set([basename(file, extname(file)), modelName].filter((s) => s !== ''))];
  return stems.flatMap((stem) => [join(dir, `${stem}.card.json`), join(dir, `${stem}.card.md`)]);
}

/** The model card, if one lies beside the model; a card that is not valid JSON is an InputError naming it. */
export function readModelCard(file: string, modelName: string): unknown {
  for (const candidate of cardCandidates(file, modelName)) {
    if (!existsSync(candidate)) continue;
    const text = readFileSync(candidate, 'utf8');
    if (candidate.endsWith('.md')) return text;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new InputError({ file: candidate }, `model card is not valid JSON (${(err as Error).message})`);
    }
  }
  return undefined;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' && field !== '' ? field : undefined;
}

/**
 * Name: the model card's `name` (what the model is shipped as), else the exported spec's name,
 * else the file's stem. Version: the card's or the training metadata's `version` when one is
 * given, else the first 12 hex digits of the graph's SHA-256 (which changes whenever the weights
 * do, so two results with the same version came from the same network).
 */
export function describeModel(file: string, info: FkdOnnxInfo): PipelineModelInfo {
  const absolute = resolve(file);
  const specName = info.modelName !== '' ? info.modelName : basename(absolute, extname(absolute));
  const card = readModelCard(absolute, specName);
  const name = stringField(card, 'name') ?? specName;
  const version = stringField(card, 'version') ?? stringField(info.metadata, 'version') ?? info.graphSha256.slice(0, 12);
  return { name, version, schema: info.schema, points: pointNames(info), file: absolute, ...(card !== undefined ? { card } : {}) };
}
