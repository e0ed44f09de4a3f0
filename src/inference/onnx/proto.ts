/**
 * ONNX protobuf messages, encoded and decoded with protobufjs from the subset of onnx.proto in
 * onnx-subset.json (official field numbers). Only the fields fkd sets are typed here.
 */
import protobuf from 'protobufjs/light.js';
import descriptor from './onnx-subset.json' with { type: 'json' };

/** TensorProto.DataType values fkd uses. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;

/** AttributeProto.AttributeType values fkd uses. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes, row-major. */
  rawData: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

/** A dimension: a fixed size or a symbolic name (e.g. the batch). */
export type Dimension = { dimValue: number } | { dimParam: string };

export interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: Dimension[] } } };
  docString?: string;
}

export interface GraphProto {
  name: string;
  docString?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}

export interface OperatorSetIdProto {
  domain: string;
  version: number;
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}

/** ModelProto's top-level fields other than the graph. */
export interface ModelHeader {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  modelVersion: number;
  docString?: string;
  opsetImport: OperatorSetIdProto[];
  metadataProps: StringStringEntryProto[];
}

/** ModelProto as read by fkd: the graph left as its exact encoded bytes. */
export interface ModelWithOpaqueGraph extends Partial<ModelHeader> {
  graph?: Uint8Array;
}

const root = protobuf.Root.fromJSON(descriptor);
const modelType = root.lookupType('onnx.ModelProto');
const graphType = root.lookupType('onnx.GraphProto');
const opaqueModelType = root.lookupType('onnx.ModelProtoOpaqueGraph');

/** GraphProto's wire bytes. */
export function encodeGraph(graph: GraphProto): Uint8Array {
  return graphType.encode(graphType.fromObject(graph)).finish();
}

/**
 * ModelProto's wire bytes from its header and an already-encoded graph. The graph goes last, so
 * that a file truncated anywhere past the header cuts into it, which the reader detects.
 */
export function encodeModel(header: ModelHeader, graphBytes: Uint8Array): Uint8Array {
  const writer = protobuf.Writer.create();
  modelType.encode(modelType.fromObject(header), writer);
  writer.uint32((7 << 3) | 2).bytes(graphBytes); // field 7 (graph), length-delimited
  return writer.finish();
}

/**
 * Reads ModelProto's top-level fields, keeping the graph as raw bytes. Throws protobufjs's
 * error on malformed or truncated input.
 */
export function decodeModelWithOpaqueGraph(bytes: Uint8Array): ModelWithOpaqueGraph {
  const message = opaqueModelType.decode(bytes);
  return opaqueModelType.toObject(message, { longs: Number, defaults: false, arrays: true }) as ModelWithOpaqueGraph;
}

/** The whole model decoded (weights included); for tests and inspection. */
export function decodeModel(bytes: Uint8Array): ModelHeader & { graph: GraphProto } {
  const message = modelType.decode(bytes);
  return modelType.toObject(message, { longs: Number, defaults: false, arrays: true }) as ModelHeader & { graph: GraphProto };
}
