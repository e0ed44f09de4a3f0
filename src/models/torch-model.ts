import { InputError } from '../data/errors.js';
import { FACE_PIXELS, FACE_SIZE } from '../data/dataset.js';
import { nativeEngine, type NativeModel, type NativeModelOptions } from '../engine/native.js';
import { readModelFile, writeModelFile, type ModelFileContents, type ModelMetadata } from './file.js';
import { engineSpec, type ModelSpec } from './spec.js';

/** A libtorch network with its spec and meaning: the training engine's model and the reference for inference. */
export class TorchModel {
  private constructor(
    readonly spec: ModelSpec,
    readonly metadata: ModelMetadata,
    readonly native: NativeModel,
  ) {}

  /** A freshly initialised network (weights drawn from `options.seed`). */
  static create(spec: ModelSpec, metadata: ModelMetadata, options: NativeModelOptions = {}): TorchModel {
    return new TorchModel(spec, metadata, new (nativeEngine().NativeModel)(engineSpec(spec), options));
  }

  /** Builds the network a file's spec describes and loads its weights; rejects mismatches naming the file. */
  static fromContents(contents: ModelFileContents, file: string, options: NativeModelOptions = {}): TorchModel {
    let model: TorchModel;
    try {
      model = TorchModel.create(contents.spec, contents.metadata, options);
    } catch (err) {
      throw new InputError({ file }, `cannot build the model its spec describes: ${(err as Error).message}`);
    }
    try {
      model.native.setState(contents.tensors);
    } catch (err) {
      throw new InputError({ file }, `weights do not match the model spec: ${(err as Error).message}`);
    }
    return model;
  }

  static async load(path: string, options: NativeModelOptions = {}): Promise<TorchModel> {
    return TorchModel.fromContents(await readModelFile(path), path, options);
  }

  get pointCount(): number {
    return this.spec.outputs / 2;
  }

  /**
   * Keypoints for `count` grey 96x96 faces (row-major, face after face), in pixel coordinates
   * (x0, y0, x1, y1, ... per face). Runs off the JS thread.
   */
  async predict(images: Uint8Array, count = images.length / FACE_PIXELS, batchSize = 256): Promise<Float32Array> {
    if (!Number.isInteger(count) || images.length !== count * this.spec.inputSize * this.spec.inputSize) {
      throw new RangeError(`predict: ${images.length} pixels is not ${count} faces of ${this.spec.inputSize}x${this.spec.inputSize}`);
    }
    return this.native.predict(images, count, this.spec.inputSize ?? FACE_SIZE, batchSize);
  }

  contents(kind: ModelFileContents['kind'] = 'model'): ModelFileContents {
    return { kind, spec: this.spec, metadata: this.metadata, tensors: this.native.getState(), blobs: {} };
  }

  async save(path: string): Promise<void> {
    await writeModelFile(path, this.contents('model'));
  }
}
