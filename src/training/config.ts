import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from '../data/errors.js';
import { SpecError, namedSpec, namedSpecNames, validateModelSpec, withOutputs, type ModelSpec } from '../models/spec.js';
import { schemaByName, KNOWN_SCHEMAS } from '../schema/index.js';
import { UsageError } from '../util/usage-error.js';

export type ScheduleConfig =
  | { type: 'constant' }
  | { type: 'step'; stepSize: number; gamma: number }
  | { type: 'cosine'; minLearningRate: number }
  | { type: 'plateau'; factor: number; patience: number; minLearningRate: number; minDelta: number };

export interface AugmentConfig {
  flip: boolean;
  /** ± degrees. */
  rotation: number;
  /** Zoom in 1 ± scale. */
  scale: number;
  /** ± pixels per axis. */
  shift: number;
  /** ± added to [0, 1] pixel values. */
  brightness: number;
  /** Contrast factor in 1 ± contrast. */
  contrast: number;
}

/** A training run's settings, all defaults filled in; paths absolute. */
export interface TrainConfig {
  name: string;
  /** A shipped spec's name, a path to a spec JSON file, or an inline spec. */
  model: string | ModelSpec;
  /** Keypoint schema (kaggle15, ibug68): the data's columns and the model's head follow it. */
  schema: string;
  data: { train: string; dev?: string; devFraction: number };
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  /** 0 = all cores. */
  threads: number;
  device: string;
  channelsLast: boolean;
  optimizer: { type: 'adam' | 'adamw' | 'sgd'; learningRate: number; weightDecay: number; momentum: number; nesterov: boolean };
  schedule: ScheduleConfig;
  earlyStopping: { patience: number; minDelta: number } | null;
  gradClipNorm: number;
  augment: AugmentConfig;
}

type Json = Record<string, unknown>;

/** Reads fields of one JSON object, failing with the config file and the field's path. */
class Fields {
  private readonly used = new Set<string>();
  constructor(
    private readonly file: string,
    private readonly path: string,
    private readonly values: Json,
  ) {}

  fail(key: string, problem: string): never {
    throw new InputError({ file: this.file, field: this.path + key }, problem);
  }

  private raw(key: string): unknown {
    this.used.add(key);
    return this.values[key];
  }

  number(key: string, fallback: number, check: (n: number) => boolean = () => true, rule = 'a number'): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) this.fail(key, `must be ${rule}, got ${JSON.stringify(value)}`);
    return value;
  }

  integer(key: string, fallback: number, min: number): number {
    return this.number(key, fallback, (n) => Number.isInteger(n) && n >= min, `an integer ≥ ${min}`);
  }

  nonNegative(key: string, fallback: number): number {
    return this.number(key, fallback, (n) => n >= 0, 'a number ≥ 0');
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  string(key: string, fallback?: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value === '') this.fail(key, `must be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.string(key, fallback) as T;
    if (!allowed.includes(value)) this.fail(key, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    return value;
  }

  object(key: string): Fields | undefined {
    const value = this.raw(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'must be an object');
    return new Fields(this.file, `${this.path}${key}.`, value as Json);
  }

  value(key: string): unknown {
    return this.raw(key);
  }

  /** Unknown keys are typos more often than not: reject them. */
  done(): void {
    for (const key of Object.keys(this.values)) if (!this.used.has(key)) this.fail(key, 'unknown setting');
  }
}

function parseSchedule(fields: Fields | undefined, epochs: number): ScheduleConfig {
  if (!fields) return { type: 'constant' };
  const type = fields.oneOf('type', 'constant', ['constant', 'step', 'cosine', 'plateau'] as const);
  let schedule: ScheduleConfig;
  if (type === 'step') {
    schedule = { type, stepSize: fields.integer('stepSize', Math.max(1, Math.floor(epochs / 3)), 1), gamma: fields.number('gamma', 0.1, (n) => n > 0 && n <= 1, 'in (0, 1]') };
  } else if (type === 'cosine') {
    schedule = { type, minLearningRate: fields.nonNegative('minLearningRate', 0) };
  } else if (type === 'plateau') {
    schedule = {
      type,
      factor: fields.number('factor', 0.5, (n) => n > 0 && n < 1, 'in (0, 1)'),
      patience: fields.integer('patience', 5, 0),
      minLearningRate: fields.nonNegative('minLearningRate', 0),
      minDelta: fields.nonNegative('minDelta', 0),
    };
  } else {
    schedule = { type };
  }
  fields.done();
  return schedule;
}

function parseAugment(fields: Fields | undefined): AugmentConfig {
  const augment: AugmentConfig = {
    flip: fields?.boolean('flip', false) ?? false,
    rotation: fields?.number('rotation', 0, (n) => n >= 0 && n <= 180, 'in [0, 180] degrees') ?? 0,
    scale: fields?.number('scale', 0, (n) => n >= 0 && n < 1, 'in [0, 1)') ?? 0,
    shift: fields?.nonNegative('shift', 0) ?? 0,
    brightness: fields?.number('brightness', 0, (n) => n >= 0 && n <= 1, 'in [0, 1]') ?? 0,
    contrast: fields?.number('contrast', 0, (n) => n >= 0 && n < 1, 'in [0, 1)') ?? 0,
  };
  fields?.done();
  return augment;
}

/** Validates a parsed config; relative paths are taken from `baseDir` (the config file's folder). */
export function parseTrainConfig(value: unknown, file: string, baseDir: string): TrainConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError({ file }, 'a training config must be a JSON object');
  const top = new Fields(file, '', value as Json);
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));

  const name = top.string('name', 'run')!;
  if (!/^[\w.-]+$/.test(name)) top.fail('name', 'may only hold letters, digits, "_", "-" and "."');

  let model: string | ModelSpec = 'baseline';
  const rawModel = top.value('model') ?? 'baseline';
  if (typeof rawModel === 'string') {
    if (namedSpec(rawModel)) model = rawModel;
    else if (rawModel.endsWith('.json')) model = path(rawModel);
    else top.fail('model', `"${rawModel}" is neither a shipped spec (${namedSpecNames().join(', ')}) nor a .json spec file`);
  } else {
    try {
      model = validateModelSpec(rawModel);
    } catch (err) {
      top.fail('model', (err as Error).message);
    }
  }

  const dataFields = top.object('data') ?? top.fail('data', 'is required: { "train": "training.csv", "dev": "dev.csv" }');
  const train = dataFields.string('train') ?? dataFields.fail('train', 'is required (a Kaggle-format training CSV)');
  const dev = dataFields.string('dev');
  const devFraction = dataFields.number('devFraction', dev ? 0 : 0.1, (n) => n >= 0 && n < 1, 'in [0, 1)');
  dataFields.done();

  const epochs = top.integer('epochs', 30, 1);
  const optimizerFields = top.object('optimizer');
  const optimizer = {
    type: optimizerFields?.oneOf('type', 'adam', ['adam', 'adamw', 'sgd'] as const) ?? 'adam',
    learningRate: optimizerFields?.number('learningRate', 1e-3, (n) => n > 0, 'a number > 0') ?? 1e-3,
    weightDecay: optimizerFields?.nonNegative('weightDecay', 0) ?? 0,
    momentum: optimizerFields?.number('momentum', 0.9, (n) => n >= 0 && n < 1, 'in [0, 1)') ?? 0.9,
    nesterov: optimizerFields?.boolean('nesterov', false) ?? false,
  };
  optimizerFields?.done();

  const stopping = top.object('earlyStopping');
  const earlyStopping = stopping ? { patience: stopping.integer('patience', 10, 1), minDelta: stopping.nonNegative('minDelta', 0) } : null;
  stopping?.done();

  const config: TrainConfig = {
    name,
    model,
    schema: top.oneOf('schema', 'kaggle15', KNOWN_SCHEMAS.map((k) => k.name)),
    data: { train: path(train), dev: dev ? path(dev) : undefined, devFraction },
    epochs,
    batchSize: top.integer('batchSize', 64, 1),
    evalBatchSize: top.integer('evalBatchSize', 256, 1),
    seed: top.integer('seed', 1, 0),
    threads: top.integer('threads', 0, 0),
    device: top.string('device', 'cpu')!,
    channelsLast: top.boolean('channelsLast', false),
    optimizer,
    schedule: parseSchedule(top.object('schedule'), epochs),
    earlyStopping,
    gradClipNorm: top.nonNegative('gradClipNorm', 0),
    augment: parseAugment(top.object('augment')),
  };
  top.done();
  return config;
}

export async function readTrainConfig(file: string): Promise<TrainConfig> {
  const text = await readFile(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError({ file }, `not valid JSON: ${(err as Error).message}`);
  }
  return parseTrainConfig(value, file, dirname(resolve(file)));
}

/**
 * The spec with its head sized for a keypoint schema: `outputs` = points × 2 and the final
 * layer to match (a dense layer's units; for a heatmap head, softArgmax after a conv, the
 * conv's filters = points). A spec that already fits is returned as it is; one whose head is
 * neither is an error.
 */
export function specForSchema(spec: ModelSpec, schemaName: string): ModelSpec {
  const schema = schemaByName(schemaName);
  const outputs = schema.points.length * 2;
  if (spec.outputs === outputs) return spec;
  let sized: ModelSpec;
  try {
    sized = withOutputs(spec, outputs);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    const last = spec.layers[spec.layers.length - 1];
    throw new UsageError(
      `model "${spec.name ?? 'spec'}" predicts ${spec.outputs} values and ends in a ${last?.type ?? 'missing'} layer, so its head cannot be sized for schema ${schema.name} ` +
        `(${outputs} values): end the spec with a dense layer, or give a spec with "outputs": ${outputs}`,
    );
  }
  const about = `Head sized for ${schema.name}: ${outputs} outputs.`;
  return { ...sized, description: sized.description ? `${sized.description} ${about}` : about };
}

/**
 * The model spec a config names (a shipped one, a spec file, or inline), its head sized for the
 * config's schema (so that "model": "baseline" with "schema": "ibug68" predicts 68 points).
 */
export async function resolveModelSpec(config: TrainConfig): Promise<ModelSpec> {
  return specForSchema(await namedOrFileSpec(config), config.schema);
}

async function namedOrFileSpec(config: TrainConfig): Promise<ModelSpec> {
  if (typeof config.model !== 'string') return config.model;
  const named = namedSpec(config.model);
  if (named) return named;
  const text = await readFile(config.model, 'utf8');
  try {
    return validateModelSpec(JSON.parse(text));
  } catch (err) {
    throw new InputError({ file: config.model }, `bad model spec: ${(err as Error).message}`);
  }
}
