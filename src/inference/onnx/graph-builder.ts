import { AttributeType, DataType, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';

/** Attribute constructors, so that node calls read like the ONNX operator docs. */
export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): AttributeProto => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
};

function littleEndianFloat32(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

function littleEndianInt64(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

/** Collects an ONNX graph's nodes and initializers, handing out unique value names. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  private nodeCount = 0;

  /** Reserves a value name: `base` itself if free, else `base_2`, `base_3`, … */
  fresh(base: string): string {
    let name = base;
    for (let k = 2; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output (named after `outputBase`) and returns that output's name. */
  node(opType: string, inputs: string[], attributes: AttributeProto[] = [], outputBase = opType.toLowerCase()): string {
    const output = this.fresh(outputBase);
    this.nodes.push({ name: `${opType}_${this.nodeCount++}`, opType, input: inputs, output: [output], attribute: attributes });
    return output;
  }

  /** A float32 initializer from little-endian bytes (as the engine stores weights) or numbers. */
  floatInitializer(name: string, dims: number[], data: Uint8Array | ArrayLike<number>): string {
    const rawData = data instanceof Uint8Array ? data : littleEndianFloat32(data);
    const elements = dims.reduce((a, b) => a * b, 1);
    if (rawData.byteLength !== elements * 4) throw new Error(`initializer ${name}: ${rawData.byteLength} bytes for shape [${dims.join(', ')}]`);
    const unique = this.fresh(name);
    this.initializers.push({ name: unique, dims, dataType: DataType.FLOAT, rawData });
    return unique;
  }

  int64Initializer(name: string, values: number[]): string {
    const unique = this.fresh(name);
    this.initializers.push({ name: unique, dims: [values.length], dataType: DataType.INT64, rawData: littleEndianInt64(values) });
    return unique;
  }
}
