import type { ModelFileContents } from '../../models/file.js';
import { TorchModel } from '../../models/torch-model.js';
import type { KeypointModel } from '../keypoint-model.js';

/** The largest difference `fkd export --verify` accepts between onnxruntime and libtorch, in crop pixels. */
export const VERIFY_TOLERANCE_PX = 1e-3;

/** Deterministic test images: a smooth gradient plus noise, so that every layer sees varied input. */
export function verificationFaces(count: number, side: number): Uint8Array {
  const faces = new Uint8Array(count * side * side);
  let state = 12345;
  for (let i = 0; i < faces.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const pixel = i % (side * side);
    const gradient = ((pixel % side) + Math.floor(pixel / side) + Math.floor(i / (side * side)) * 17) % 256;
    faces[i] = (gradient + (state >>> 26)) & 255;
  }
  return faces;
}

/**
 * Runs the same faces through the libtorch engine (the model file) and onnxruntime (the export)
 * and returns the largest coordinate difference in crop pixels. Needs the native engine (loaded
 * on first use, so importing this module costs nothing).
 */
export async function compareWithEngine(contents: ModelFileContents, file: string, onnx: KeypointModel, count = 32): Promise<number> {
  return compareEnsembleWithEngine([{ contents, file }], onnx, count);
}

/** As compareWithEngine, for an ensemble export: the engine side is the mean of the members' predictions. */
export async function compareEnsembleWithEngine(members: readonly { contents: ModelFileContents; file: string }[], onnx: KeypointModel, count = 32): Promise<number> {
  const side = members[0].contents.spec.inputSize;
  const faces = verificationFaces(count, side);
  let expected: Float64Array | undefined;
  for (const { contents, file } of members) {
    const predictions = await TorchModel.fromContents(contents, file).predict(faces, count);
    expected ??= new Float64Array(predictions.length);
    for (let i = 0; i < predictions.length; i++) expected[i] += predictions[i] / members.length;
  }
  if (!expected) throw new Error('an ensemble needs at least one member');
  const actual = await onnx.predict(faces);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}
