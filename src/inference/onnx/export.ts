/**
 * ONNX export of a model spec and its weights: every layer type of src/models/spec.ts mapped to
 * ONNX opset 13 nodes that compute what native/engine.cc's libtorch modules compute in eval mode
 * (dropout off, batch norm on its running statistics). Shapes are tracked per face (no batch
 * dimension) as the spec is walked, as the engine's build probe does; the batch is dynamic.
 *
 * Graph contract: input "input" float32 [N, 1, S, S] = grey / 255; output "keypoints" float32
 * [N, 2P] in the engine's normalised coordinates (u − (S − 1)/2) / (S/2) (metadata "unit-v1").
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../util/paths.js';
import type { NativeTensor } from '../../engine/native.js';
import type { ModelMetadata } from '../../models/file.js';
import type { Activation, LayerSpec, ModelSpec } from '../../models/spec.js';
import { attr, GraphBuilder } from './graph-builder.js';
import { INPUT_NAME, metadataProps, OUTPUT_NAME } from './metadata.js';
import { DataType, encodeGraph, encodeModel, type Dimension, type ValueInfoProto } from './proto.js';
import { WeightMismatchError, WeightTable } from './weight-table.js';

export const ONNX_OPSET = 13;
/** ONNX IR version 8 (ONNX 1.10+); opset 13 needs at least 7. */
export const ONNX_IR_VERSION = 8;

export interface ExportOptions {
  /** ModelProto.producer_version (default: fkd's package version). */
  producerVersion?: string;
  /** ModelProto.model_version (default 1). */
  modelVersion?: number;
}

const FKD_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Thrown when the spec cannot be expressed or does not fit its input; names the layer. */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** A value in the graph: its name and per-face shape ([C, H, W] for images, [F] for features). */
interface Value {
  name: string;
  shape: number[];
}

type Saved = Map<string, Value>;

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

class SpecExporter {
  constructor(
    private readonly weights: WeightTable,
    readonly graph = new GraphBuilder(),
  ) {}

  /** Emits `layers`, whose libtorch modules are registered under `prefix` (e.g. "4_residual."). */
  layers(layers: readonly LayerSpec[], input: Value, saved: Saved, prefix: string, where: string): Value {
    let x = input;
    layers.forEach((layer, i) => {
      const at = `${where}layers[${i}] (${layer.type})`;
      try {
        const before = x.shape;
        x = this.layer(layer, x, saved, `${prefix}${i}_${layer.type}`, at);
        if (!x.shape.every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`does not fit its input [${before.join(', ')}] (output [${x.shape.join(', ')}])`);
      } catch (err) {
        if (err instanceof ExportError) throw err; // from a residual body: already placed
        throw new ExportError(`${at}: ${(err as Error).message}`);
      }
      if (layer.name) saved.set(layer.name, x);
    });
    return x;
  }

  private image(x: Value): [number, number, number] {
    if (x.shape.length !== 3) throw new Error(`needs an image input [C, H, W], got [${x.shape.join(', ')}]`);
    return x.shape as [number, number, number];
  }

  private param(name: string, shape: number[]): string {
    const tensor: NativeTensor = this.weights.take(name, shape);
    return this.graph.floatInitializer(name, shape, tensor.data);
  }

  private layer(layer: LayerSpec, x: Value, saved: Saved, module: string, where: string): Value {
    const g = this.graph;
    switch (layer.type) {
      case 'conv': {
        const [channels, height, width] = this.image(x);
        const kernel = layer.kernel ?? 3;
        const dilation = layer.dilation ?? 1;
        const stride = layer.stride ?? 1;
        // The engine's "same" is symmetric padding d(k − 1)/2, rounded down (exact for odd kernels).
        const padding = layer.padding === 'same' ? Math.floor((dilation * (kernel - 1)) / 2) : (layer.padding ?? 0);
        const inputs = [x.name, this.param(`${module}.weight`, [layer.filters, channels, kernel, kernel])];
        if (layer.bias ?? true) inputs.push(this.param(`${module}.bias`, [layer.filters]));
        const out = (side: number): number => Math.floor((side + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
        const y = g.node('Conv', inputs, [
          attr.ints('kernel_shape', [kernel, kernel]),
          attr.ints('strides', [stride, stride]),
          attr.ints('pads', [padding, padding, padding, padding]),
          attr.ints('dilations', [dilation, dilation]),
          attr.int('group', 1),
        ]);
        return this.activation({ name: y, shape: [layer.filters, out(height), out(width)] }, layer.activation ?? 'none', layer.slope, layer.alpha);
      }
      case 'dense': {
        const features = x.shape.reduce((a, b) => a * b, 1);
        const flat = x.shape.length > 1 ? g.node('Flatten', [x.name], [attr.int('axis', 1)]) : x.name;
        const inputs = [flat, this.param(`${module}.weight`, [layer.units, features])];
        if (layer.bias ?? true) inputs.push(this.param(`${module}.bias`, [layer.units]));
        const y = g.node('Gemm', inputs, [attr.int('transB', 1)]);
        return this.activation({ name: y, shape: [layer.units] }, layer.activation ?? 'none', layer.slope, layer.alpha);
      }
      case 'batchnorm': {
        const channels = x.shape[0];
        const inputs = [x.name, ...['weight', 'bias', 'running_mean', 'running_var'].map((p) => this.param(`${module}.${p}`, [channels]))];
        this.weights.skip(`${module}.num_batches_tracked`);
        return { name: g.node('BatchNormalization', inputs, [attr.float('epsilon', layer.eps ?? 1e-5)]), shape: x.shape };
      }
      case 'relu':
      case 'selu':
      case 'tanh':
      case 'sigmoid':
        return this.activation(x, layer.type);
      case 'elu':
        return this.activation(x, 'elu', undefined, layer.alpha);
      case 'leakyRelu':
        return this.activation(x, 'leakyRelu', layer.slope);
      case 'maxpool':
      case 'avgpool': {
        const [channels, height, width] = this.image(x);
        const size = layer.size ?? 2;
        const stride = layer.stride ?? size;
        const padding = layer.padding ?? 0;
        const out = (side: number): number => Math.floor((side + 2 * padding - size) / stride) + 1;
        const attributes = [attr.ints('kernel_shape', [size, size]), attr.ints('strides', [stride, stride]), attr.ints('pads', [padding, padding, padding, padding])];
        // torch's avg_pool2d counts padding zeros in the mean by default.
        if (layer.type === 'avgpool') attributes.push(attr.int('count_include_pad', 1));
        const y = g.node(layer.type === 'maxpool' ? 'MaxPool' : 'AveragePool', [x.name], attributes);
        return { name: y, shape: [channels, out(height), out(width)] };
      }
      case 'globalAvgPool':
      case 'globalMaxPool': {
        const [channels] = this.image(x);
        const pooled = g.node(layer.type === 'globalAvgPool' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name]);
        // The engine reduces to [N, C]; ONNX keeps [N, C, 1, 1].
        return { name: g.node('Flatten', [pooled], [attr.int('axis', 1)]), shape: [channels] };
      }
      case 'dropout':
      case 'alphaDropout':
        return x; // identity at inference
      case 'standardize': {
        const centred = g.node('Sub', [x.name, g.floatInitializer(`${module}.mean`, [], [layer.mean])]);
        return { name: g.node('Div', [centred, g.floatInitializer(`${module}.std`, [], [layer.std])]), shape: x.shape };
      }
      case 'flatten':
        if (x.shape.length === 1) return x;
        return { name: g.node('Flatten', [x.name], [attr.int('axis', 1)]), shape: [x.shape.reduce((a, b) => a * b, 1)] };
      case 'residual': {
        // The body sees the names saved so far; names it saves stay inside it.
        const body = this.layers(layer.layers, x, new Map(saved), `${module}.`, `${where}.`);
        let shortcut = x.name;
        if (!sameShape(body.shape, x.shape)) {
          const [inChannels, inHeight] = this.image(x);
          const [outChannels, outHeight] = this.image(body);
          const stride = inHeight / outHeight;
          const weight = this.param(`${module}_shortcut.weight`, [outChannels, inChannels, 1, 1]);
          const bias = this.param(`${module}_shortcut.bias`, [outChannels]);
          shortcut = g.node('Conv', [x.name, weight, bias], [attr.ints('kernel_shape', [1, 1]), attr.ints('strides', [stride, stride])]);
        }
        const sum = g.node('Add', [body.name, shortcut]);
        return this.activation({ name: sum, shape: body.shape }, layer.activation ?? 'none');
      }
      case 'upsample': {
        const [channels, height, width] = this.image(x);
        const scale = layer.scale ?? 2;
        const mode = layer.mode ?? 'nearest';
        const scales = g.floatInitializer(`${module}.scales`, [4], [1, 1, scale, scale]);
        // libtorch: nearest takes source floor(dst / scale); bilinear with align_corners=false
        // samples (dst + 0.5) / scale − 0.5, clamped at the edges: ONNX's pytorch_half_pixel.
        const attributes =
          mode === 'nearest'
            ? [attr.string('mode', 'nearest'), attr.string('coordinate_transformation_mode', 'asymmetric'), attr.string('nearest_mode', 'floor')]
            : [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'pytorch_half_pixel')];
        const y = g.node('Resize', [x.name, '', scales], attributes);
        return { name: y, shape: [channels, Math.floor(height * scale), Math.floor(width * scale)] };
      }
      case 'concat': {
        const other = saved.get(layer.with);
        if (!other) throw new Error(`"with": no earlier layer is named "${layer.with}"`);
        if (other.shape.length !== x.shape.length || !sameShape(other.shape.slice(1), x.shape.slice(1))) {
          throw new Error(`cannot concatenate [${x.shape.join(', ')}] with "${layer.with}" [${other.shape.join(', ')}]`);
        }
        return { name: g.node('Concat', [x.name, other.name], [attr.int('axis', 1)]), shape: [x.shape[0] + other.shape[0], ...x.shape.slice(1)] };
      }
      case 'softArgmax':
        return this.softArgmax(x, layer.beta ?? 1, module);
    }
  }

  /** Heatmaps [C, H, W] to expected (x, y) per channel, interleaved: [2C] (engine.cc's softArgmax). */
  private softArgmax(x: Value, beta: number, module: string): Value {
    const g = this.graph;
    const [channels, height, width] = this.image(x);
    let logits = g.node('Reshape', [x.name, g.int64Initializer(`${module}.flat_shape`, [0, channels, height * width])]);
    if (beta !== 1) logits = g.node('Mul', [logits, g.floatInitializer(`${module}.beta`, [], [beta])]);
    const softmax = g.node('Softmax', [logits], [attr.int('axis', -1)]);
    const p = g.node('Reshape', [softmax, g.int64Initializer(`${module}.map_shape`, [0, channels, height, width])]);
    // Normalised coordinate of cell j of n: ((j + 0.5) / n) * 2 − 1, rounded as float32 arithmetic rounds it.
    const cells = (n: number): number[] => Array.from({ length: n }, (_, j) => Math.fround(Math.fround(Math.fround(j + 0.5) / n) * 2) - 1);
    const expected = (sumOver: number, coords: number[], axis: string): string => {
      const marginal = g.node('ReduceSum', [p, g.int64Initializer(`${module}.sum_${axis}`, [sumOver])], [attr.int('keepdims', 0)]);
      const weighted = g.node('Mul', [marginal, g.floatInitializer(`${module}.${axis}`, [coords.length], coords)]);
      const mean = g.node('ReduceSum', [weighted, g.int64Initializer(`${module}.sum_last_${axis}`, [-1])], [attr.int('keepdims', 1)]);
      return mean; // [N, C, 1]
    };
    const ex = expected(2, cells(width), 'xs');
    const ey = expected(3, cells(height), 'ys');
    const pairs = g.node('Concat', [ex, ey], [attr.int('axis', -1)]);
    return { name: g.node('Reshape', [pairs, g.int64Initializer(`${module}.out_shape`, [0, 2 * channels])]), shape: [2 * channels] };
  }

  private activation(x: Value, activation: Activation, slope = 0.01, alpha = 1.0): Value {
    const g = this.graph;
    switch (activation) {
      case 'none':
        return x;
      case 'relu':
        return { name: g.node('Relu', [x.name]), shape: x.shape };
      case 'elu':
        return { name: g.node('Elu', [x.name], [attr.float('alpha', alpha)]), shape: x.shape };
      case 'selu':
        // torch's SELU constants, as float32 (ONNX's defaults, spelled out).
        return { name: g.node('Selu', [x.name], [attr.float('alpha', 1.6732632423543772), attr.float('gamma', 1.0507009873554805)]), shape: x.shape };
      case 'leakyRelu':
        return { name: g.node('LeakyRelu', [x.name], [attr.float('alpha', slope)]), shape: x.shape };
      case 'tanh':
        return { name: g.node('Tanh', [x.name]), shape: x.shape };
      case 'sigmoid':
        return { name: g.node('Sigmoid', [x.name]), shape: x.shape };
    }
  }
}

/** One trained network: its architecture and the engine's named weight tensors. */
export interface ExportMember {
  spec: ModelSpec;
  weights: readonly NativeTensor[];
}

/**
 * The graph's nodes and initializers and its last value; every problem is an ExportError.
 * Several members share the input and their outputs are averaged (an ensemble); initializer
 * names stay unique because the graph builder hands out fresh names.
 */
function buildGraph(members: readonly ExportMember[]): { graph: GraphBuilder; last: Value } {
  const graph = new GraphBuilder();
  const { inputSize, outputs } = members[0].spec;
  const input: Value = { name: graph.fresh(INPUT_NAME), shape: [1, inputSize, inputSize] };
  const lasts = members.map(({ spec, weights }, k) => {
    const where = members.length > 1 ? `ensemble member ${k + 1}: ` : '';
    if (spec.inputSize !== inputSize || spec.outputs !== outputs) {
      throw new ExportError(`${where}takes ${spec.inputSize}px faces and predicts ${spec.outputs} values, but member 1 takes ${inputSize}px and predicts ${outputs}`);
    }
    try {
      const table = new WeightTable(weights);
      const last = new SpecExporter(table, graph).layers(spec.layers, input, new Map(), '', where);
      if (!sameShape(last.shape, [spec.outputs])) {
        throw new ExportError(`${where}the network's output per face is [${last.shape.join(', ')}] but ${spec.outputs} values are expected`);
      }
      table.assertAllUsed();
      return last;
    } catch (err) {
      if (err instanceof WeightMismatchError) throw new ExportError(`${where}${err.message}`);
      throw err;
    }
  });
  if (lasts.length === 1) return { graph, last: lasts[0] };
  const sum = graph.node('Sum', lasts.map((v) => v.name));
  const mean = graph.node('Mul', [sum, graph.floatInitializer('ensemble.weight', [], [1 / lasts.length])]);
  return { graph, last: { name: mean, shape: [outputs] } };
}

function tensorValueInfo(name: string, dims: Dimension[], docString: string): ValueInfoProto {
  return { name, docString, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims } } } };
}

/**
 * The ONNX model (bytes of a ModelProto) computing `spec` with `weights` (the engine's named
 * tensors, as in a model file), with fkd's metadata in metadata_props.
 */
export function exportOnnx(spec: ModelSpec, weights: readonly NativeTensor[], metadata: ModelMetadata, options: ExportOptions = {}): Uint8Array {
  return exportOnnxEnsemble([{ spec, weights }], metadata, options);
}

/**
 * One ONNX model averaging the keypoints of several trained networks (which must agree on input
 * size, keypoint schema and count). The metadata's spec is the first member's, named as an ensemble.
 */
export function exportOnnxEnsemble(members: readonly ExportMember[], metadata: ModelMetadata, options: ExportOptions = {}): Uint8Array {
  if (members.length === 0) throw new ExportError('an ensemble needs at least one member');
  const spec: ModelSpec =
    members.length === 1 ? members[0].spec : { ...members[0].spec, name: `ensemble of ${members.length}: ${members.map((m) => m.spec.name ?? 'custom').join(' + ')}` };
  if (spec.outputs !== metadata.pointCount * 2) {
    throw new ExportError(`the spec has ${spec.outputs} outputs but the metadata says ${metadata.pointCount} keypoints`);
  }
  const { graph, last } = buildGraph(members);
  graph.nodes.push({ name: 'output', opType: 'Identity', input: [last.name], output: [graph.fresh(OUTPUT_NAME)], attribute: [] });

  const batch: Dimension = { dimParam: 'batch' };
  const graphBytes = encodeGraph({
    name: spec.name ?? 'fkd-model',
    docString: spec.description,
    node: graph.nodes,
    initializer: graph.initializers,
    input: [tensorValueInfo(INPUT_NAME, [batch, { dimValue: 1 }, { dimValue: spec.inputSize }, { dimValue: spec.inputSize }], 'grey faces, pixel values / 255')],
    output: [
      tensorValueInfo(OUTPUT_NAME, [batch, { dimValue: spec.outputs }], `x0, y0, x1, y1, … normalised: (u - ${(spec.inputSize - 1) / 2}) / ${spec.inputSize / 2}`),
    ],
  });
  const graphSha256 = createHash('sha256').update(graphBytes).digest('hex');
  return encodeModel(
    {
      irVersion: ONNX_IR_VERSION,
      producerName: 'fkd',
      producerVersion: options.producerVersion ?? FKD_VERSION,
      modelVersion: options.modelVersion ?? 1,
      docString: spec.description,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      metadataProps: metadataProps(spec, metadata, graphSha256),
    },
    graphBytes,
  );
}
