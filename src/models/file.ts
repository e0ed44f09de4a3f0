import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InputError } from '../data/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { NativeTensor } from '../engine/native.js';
import { validateModelSpec, SpecError, type ModelSpec } from './spec.js';

/** File format of models and checkpoints; see docs/model-file.md. */
export const MODEL_MAGIC = 'FKDMODEL';
export const MODEL_FORMAT_VERSION = 1;
const PREFIX_BYTES = 16;
const CHECKSUM_BYTES = 32;
const ALIGN = 64;

const DTYPE_BYTES: Record<NativeTensor['dtype'], number> = { float32: 4, int64: 8 };

/** What a model means, beyond its weights. */
export interface ModelMetadata {
  /** Keypoint schema name (e.g. kaggle15). */
  schema: string;
  pointCount: number;
  /** Input: grey pixels / 255; output: (u - (inputSize - 1) / 2) / (inputSize / 2), u in pixels with centres at integers. */
  normalization: 'unit-v1';
  libtorch?: string;
  createdAt?: string;
  [key: string]: unknown;
}

interface Entry {
  name: string;
  offset: number;
  length: number;
}

interface TensorEntry extends Entry {
  dtype: NativeTensor['dtype'];
  shape: number[];
}

export interface ModelFileHeader {
  kind: 'model' | 'checkpoint';
  spec: ModelSpec;
  metadata: ModelMetadata;
  tensors: TensorEntry[];
  blobs: Entry[];
  /** Checkpoints only: the trainer's state (epoch, schedule, early stopping, history). */
  training?: unknown;
}

export interface ModelFileContents {
  kind: 'model' | 'checkpoint';
  spec: ModelSpec;
  metadata: ModelMetadata;
  tensors: NativeTensor[];
  /** Opaque byte sections, e.g. "optimizer" (libtorch's serialised optimiser state) in checkpoints. */
  blobs: Record<string, Uint8Array>;
  training?: unknown;
}

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function encodeModelFile(contents: ModelFileContents): Buffer {
  let cursor = 0;
  const place = (length: number): number => {
    const offset = cursor;
    cursor = align(cursor + length);
    return offset;
  };
  const tensors: TensorEntry[] = contents.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, offset: place(t.data.byteLength), length: t.data.byteLength }));
  const blobs: Entry[] = Object.entries(contents.blobs).map(([name, data]) => ({ name, offset: place(data.byteLength), length: data.byteLength }));
  const header: ModelFileHeader = { kind: contents.kind, spec: contents.spec, metadata: contents.metadata, tensors, blobs, training: contents.training };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const dataStart = align(PREFIX_BYTES + json.length);
  const out = Buffer.alloc(dataStart + cursor + CHECKSUM_BYTES);
  out.write(MODEL_MAGIC, 0, 'latin1');
  out.writeUInt32LE(MODEL_FORMAT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, PREFIX_BYTES);
  contents.tensors.forEach((t, i) => out.set(t.data, dataStart + tensors[i].offset));
  Object.values(contents.blobs).forEach((data, i) => out.set(data, dataStart + blobs[i].offset));
  createHash('sha256').update(out.subarray(0, out.length - CHECKSUM_BYTES)).digest().copy(out, out.length - CHECKSUM_BYTES);
  return out;
}

/** Parses and verifies a model file's bytes; every failure names the file. */
export function decodeModelFile(bytes: Uint8Array, file: string): ModelFileContents {
  const fail = (problem: string): never => {
    throw new InputError({ file }, problem);
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < PREFIX_BYTES + CHECKSUM_BYTES || buf.toString('latin1', 0, 8) !== MODEL_MAGIC) fail('not an fkd model file (bad magic number)');
  const version = buf.readUInt32LE(8);
  if (version !== MODEL_FORMAT_VERSION) fail(`model file format version ${version} is not supported (this fkd reads version ${MODEL_FORMAT_VERSION})`);
  const expected = buf.subarray(buf.length - CHECKSUM_BYTES);
  const actual = createHash('sha256').update(buf.subarray(0, buf.length - CHECKSUM_BYTES)).digest();
  if (!actual.equals(expected)) fail('checksum mismatch: the model file is corrupted or truncated');
  const jsonLength = buf.readUInt32LE(12);
  if (PREFIX_BYTES + jsonLength > buf.length - CHECKSUM_BYTES) fail('header length runs past the end of the file');
  let header: ModelFileHeader;
  try {
    header = JSON.parse(buf.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + jsonLength)) as ModelFileHeader;
  } catch {
    return fail('the header is not valid JSON');
  }
  let spec: ModelSpec;
  try {
    spec = validateModelSpec(header.spec);
  } catch (err) {
    return fail(`bad model spec in the header: ${(err as SpecError).message}`);
  }
  if (header.kind !== 'model' && header.kind !== 'checkpoint') fail(`unknown kind ${JSON.stringify(header.kind)}`);
  if (!Array.isArray(header.tensors) || !Array.isArray(header.blobs)) fail('the header has no tensor table');
  const dataStart = align(PREFIX_BYTES + jsonLength);
  const dataEnd = buf.length - CHECKSUM_BYTES;
  const section = (entry: Entry): Uint8Array => {
    if (!(entry.offset >= 0 && entry.length >= 0 && dataStart + entry.offset + entry.length <= dataEnd)) fail(`section "${entry.name}" lies outside the file`);
    return new Uint8Array(buf.subarray(dataStart + entry.offset, dataStart + entry.offset + entry.length));
  };
  const tensors = header.tensors.map((entry): NativeTensor => {
    const elementBytes = DTYPE_BYTES[entry.dtype];
    if (!elementBytes) fail(`tensor ${entry.name} has unknown dtype ${JSON.stringify(entry.dtype)}`);
    const elements = entry.shape.reduce((a, b) => a * b, 1);
    if (elements * elementBytes !== entry.length) fail(`tensor ${entry.name}: shape [${entry.shape.join(', ')}] does not match its ${entry.length} bytes`);
    return { name: entry.name, dtype: entry.dtype, shape: entry.shape, data: section(entry) };
  });
  const blobs: Record<string, Uint8Array> = {};
  for (const entry of header.blobs) blobs[entry.name] = section(entry);
  return { kind: header.kind, spec, metadata: header.metadata, tensors, blobs, training: header.training };
}

export async function writeModelFile(path: string, contents: ModelFileContents): Promise<void> {
  await writeFileAtomic(path, encodeModelFile(contents));
}

export async function readModelFile(path: string): Promise<ModelFileContents> {
  return decodeModelFile(await readFile(path), path);
}
