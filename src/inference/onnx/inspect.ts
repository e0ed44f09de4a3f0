import { createHash } from 'node:crypto';
import { InputError } from '../../data/errors.js';
import { NotFkdModelError, parseMetadataProps, type FkdOnnxInfo } from './metadata.js';
import { decodeModelWithOpaqueGraph } from './proto.js';

/**
 * Checks that `bytes` are an fkd keypoint model exported by `exportOnnx`, intact: valid ModelProto
 * framing, fkd's metadata, and the graph's checksum. Every failure is an InputError naming `file`.
 */
export function inspectOnnx(bytes: Uint8Array, file: string): FkdOnnxInfo {
  let model;
  try {
    model = decodeModelWithOpaqueGraph(bytes);
  } catch (err) {
    throw new InputError({ file }, `not a valid ONNX file, or corrupt or truncated (${(err as Error).message})`);
  }
  if (!model.graph || model.graph.byteLength === 0) throw new InputError({ file }, 'not a valid ONNX model (it has no graph), or it is truncated');
  let info: FkdOnnxInfo;
  try {
    info = parseMetadataProps(model.metadataProps ?? []);
  } catch (err) {
    if (err instanceof NotFkdModelError) throw new InputError({ file }, err.message);
    throw err;
  }
  const actual = createHash('sha256').update(model.graph).digest('hex');
  if (actual !== info.graphSha256) throw new InputError({ file }, 'checksum mismatch: the ONNX graph (weights) is corrupted');
  return info;
}
