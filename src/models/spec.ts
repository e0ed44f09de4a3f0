import baselineSpec from './specs/baseline.json' with { type: 'json' };
import baselineSeluSpec from './specs/baseline-selu.json' with { type: 'json' };
import model15Spec from './specs/model15.json' with { type: 'json' };
import referenceSpec from './specs/reference.json' with { type: 'json' };
import heatmapSpec from './specs/heatmap.json' with { type: 'json' };
import convbnSpec from './specs/convbn.json' with { type: 'json' };

/**
 * An architecture as data: a list of layers built into libtorch modules by the native engine.
 * Images come in as [batch, 1, inputSize, inputSize] in [0, 1]; the output must be
 * [batch, outputs] normalised keypoints (see docs/model-file.md for the coordinate convention).
 */
export interface ModelSpec {
  name?: string;
  description?: string;
  inputSize: number;
  outputs: number;
  layers: LayerSpec[];
}

export type Activation = 'relu' | 'elu' | 'selu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'none';
export type Init = 'default' | 'lecunNormal' | 'heNormal' | 'xavierUniform';

/** Common to every layer: a name lets a later `concat` use this layer's output. */
interface Named {
  name?: string;
}

export type LayerSpec = Named &
  (
    | {
        type: 'conv';
        filters: number;
        kernel?: number;
        stride?: number;
        padding?: number | 'same';
        dilation?: number;
        bias?: boolean;
        /** Fused activation; SELU defaults the init to LeCun normal. */
        activation?: Activation;
        init?: Init;
        slope?: number;
        alpha?: number;
      }
    | { type: 'dense'; units: number; bias?: boolean; activation?: Activation; init?: Init; slope?: number; alpha?: number }
    | { type: 'batchnorm'; momentum?: number; eps?: number }
    | { type: 'relu' | 'selu' | 'tanh' | 'sigmoid' }
    | { type: 'elu'; alpha?: number }
    | { type: 'leakyRelu'; slope?: number }
    | { type: 'maxpool' | 'avgpool'; size?: number; stride?: number; padding?: number }
    | { type: 'globalAvgPool' | 'globalMaxPool' | 'flatten' }
    | { type: 'dropout' | 'alphaDropout'; rate: number }
    | { type: 'residual'; layers: LayerSpec[]; activation?: Activation }
    | { type: 'upsample'; scale?: number; mode?: 'nearest' | 'bilinear' }
    | { type: 'concat'; with: string }
    | { type: 'softArgmax'; beta?: number }
    /** x → (x − mean) / std: puts the grey input (0..1) near zero mean and unit variance, as SELU nets want. */
    | { type: 'standardize'; mean: number; std: number }
  );

type FieldKind = 'int' | 'number' | 'boolean' | 'string' | 'layers' | 'intOrSame';

const ACTIVATIONS = ['relu', 'elu', 'selu', 'leakyRelu', 'tanh', 'sigmoid', 'none'];
const INITS = ['default', 'lecunNormal', 'heNormal', 'xavierUniform'];
const weighted = { bias: 'boolean', activation: 'string', init: 'string', slope: 'number', alpha: 'number' } as const;

/** Allowed fields per layer type (required ones listed in REQUIRED). */
const FIELDS: Record<string, Record<string, FieldKind>> = {
  conv: { filters: 'int', kernel: 'int', stride: 'int', padding: 'intOrSame', dilation: 'int', ...weighted },
  dense: { units: 'int', ...weighted },
  batchnorm: { momentum: 'number', eps: 'number' },
  relu: {},
  selu: {},
  tanh: {},
  sigmoid: {},
  elu: { alpha: 'number' },
  leakyRelu: { slope: 'number' },
  maxpool: { size: 'int', stride: 'int', padding: 'int' },
  avgpool: { size: 'int', stride: 'int', padding: 'int' },
  globalAvgPool: {},
  globalMaxPool: {},
  flatten: {},
  dropout: { rate: 'number' },
  alphaDropout: { rate: 'number' },
  residual: { layers: 'layers', activation: 'string' },
  upsample: { scale: 'number', mode: 'string' },
  concat: { with: 'string' },
  softArgmax: { beta: 'number' },
  standardize: { mean: 'number', std: 'number' },
};

const REQUIRED: Record<string, string[]> = {
  conv: ['filters'],
  dense: ['units'],
  dropout: ['rate'],
  alphaDropout: ['rate'],
  residual: ['layers'],
  concat: ['with'],
  standardize: ['mean', 'std'],
};

export class SpecError extends Error {
  override name = 'SpecError';
}

function checkField(where: string, key: string, kind: FieldKind, value: unknown): void {
  const fail = (expected: string): never => {
    throw new SpecError(`${where}: "${key}" must be ${expected}, got ${JSON.stringify(value)}`);
  };
  switch (kind) {
    case 'int':
      if (!Number.isInteger(value) || (value as number) < 0) fail('a non-negative integer');
      break;
    case 'intOrSame':
      if (value !== 'same' && (!Number.isInteger(value) || (value as number) < 0)) fail('a non-negative integer or "same"');
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail('a number');
      break;
    case 'boolean':
      if (typeof value !== 'boolean') fail('true or false');
      break;
    case 'string':
      if (typeof value !== 'string') fail('a string');
      if (key === 'activation' && !ACTIVATIONS.includes(value as string)) fail(`one of ${ACTIVATIONS.join(', ')}`);
      if (key === 'init' && !INITS.includes(value as string)) fail(`one of ${INITS.join(', ')}`);
      if (key === 'mode' && value !== 'nearest' && value !== 'bilinear') fail('"nearest" or "bilinear"');
      break;
    case 'layers':
      if (!Array.isArray(value) || value.length === 0) fail('a non-empty array of layers');
      break;
  }
}

function checkLayers(layers: unknown, where: string): void {
  if (!Array.isArray(layers) || layers.length === 0) throw new SpecError(`${where}: "layers" must be a non-empty array`);
  layers.forEach((layer, i) => {
    const at = `${where}layers[${i}]`;
    if (typeof layer !== 'object' || layer === null || Array.isArray(layer)) throw new SpecError(`${at}: a layer must be an object`);
    const { type, name, ...rest } = layer as Record<string, unknown>;
    if (typeof type !== 'string' || !(type in FIELDS)) {
      throw new SpecError(`${at}: unknown layer type ${JSON.stringify(type)} (known: ${Object.keys(FIELDS).join(', ')})`);
    }
    if (name !== undefined && typeof name !== 'string') throw new SpecError(`${at}: "name" must be a string`);
    const allowed = FIELDS[type];
    for (const [key, value] of Object.entries(rest)) {
      const kind = allowed[key];
      if (!kind) throw new SpecError(`${at} (${type}): unknown field "${key}"${Object.keys(allowed).length ? ` (allowed: ${Object.keys(allowed).join(', ')})` : ''}`);
      checkField(`${at} (${type})`, key, kind, value);
    }
    for (const key of REQUIRED[type] ?? []) if (rest[key] === undefined) throw new SpecError(`${at} (${type}): "${key}" is required`);
    if (type === 'residual') checkLayers(rest.layers, `${at}.`);
  });
}

/** Checks a parsed spec's structure; shapes are checked when the engine builds it. */
export function validateModelSpec(value: unknown): ModelSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SpecError('a model spec must be a JSON object');
  const spec = value as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (!['name', 'description', 'inputSize', 'outputs', 'layers'].includes(key)) throw new SpecError(`unknown field "${key}" in the model spec`);
  }
  if (!Number.isInteger(spec.inputSize) || (spec.inputSize as number) < 1) throw new SpecError('"inputSize" must be a positive integer');
  if (!Number.isInteger(spec.outputs) || (spec.outputs as number) < 1) throw new SpecError('"outputs" must be a positive integer');
  checkLayers(spec.layers, '');
  return spec as unknown as ModelSpec;
}

const NAMED_SPECS: Record<string, unknown> = {
  baseline: baselineSpec,
  'baseline-selu': baselineSeluSpec,
  model15: model15Spec,
  reference: referenceSpec,
  heatmap: heatmapSpec,
  convbn: convbnSpec,
};

export function namedSpecNames(): string[] {
  return Object.keys(NAMED_SPECS);
}

/** A shipped spec by name (a fresh copy), or undefined. */
export function namedSpec(name: string): ModelSpec | undefined {
  const spec = NAMED_SPECS[name];
  return spec === undefined ? undefined : validateModelSpec(structuredClone(spec));
}

/** The same spec for another output width: the head (a final dense layer, or conv + softArgmax) is resized; other heads are a SpecError. */
export function withOutputs(spec: ModelSpec, outputs: number): ModelSpec {
  if (spec.outputs === outputs) return spec;
  const layers = structuredClone(spec.layers);
  const last = layers[layers.length - 1];
  const beforeLast = layers[layers.length - 2];
  if (last?.type === 'dense') last.units = outputs;
  else if (last?.type === 'softArgmax' && beforeLast?.type === 'conv') beforeLast.filters = outputs / 2;
  else throw new SpecError(`ends in a ${last?.type ?? 'missing'} layer; only a final dense layer or a conv + softArgmax head can be resized`);
  return { ...spec, outputs, layers };
}

/** The part of a spec the native engine reads. */
export function engineSpec(spec: ModelSpec): { inputSize: number; outputs: number; layers: unknown[] } {
  return { inputSize: spec.inputSize, outputs: spec.outputs, layers: spec.layers };
}
