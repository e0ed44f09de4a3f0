import type { NativeTensor } from '../../engine/native.js';

/** Thrown when weights do not fit the spec they are exported with. */
export class WeightMismatchError extends Error {
  override name = 'WeightMismatchError';
}

/**
 * The engine's named tensors (libtorch module paths such as `4_residual.0_conv.weight`), taken
 * one by one as the exporter walks the spec; `assertAllUsed` catches weights the walk missed.
 */
export class WeightTable {
  private readonly byName = new Map<string, NativeTensor>();
  private readonly taken = new Set<string>();

  constructor(tensors: readonly NativeTensor[]) {
    for (const tensor of tensors) {
      if (this.byName.has(tensor.name)) throw new WeightMismatchError(`tensor ${tensor.name} appears twice`);
      this.byName.set(tensor.name, tensor);
    }
  }

  /** The float32 tensor `name`, checked against the shape the spec implies. */
  take(name: string, shape: number[]): NativeTensor {
    const tensor = this.byName.get(name);
    if (!tensor) throw new WeightMismatchError(`the weights have no tensor ${name} (the spec needs one of shape [${shape.join(', ')}])`);
    if (tensor.dtype !== 'float32') throw new WeightMismatchError(`tensor ${name} is ${tensor.dtype}, expected float32`);
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new WeightMismatchError(`tensor ${name} has shape [${tensor.shape.join(', ')}] but the spec implies [${shape.join(', ')}]`);
    }
    this.taken.add(name);
    return tensor;
  }

  /** Marks a tensor inference does not use (batch norm's step counter) as accounted for. */
  skip(name: string): void {
    if (this.byName.has(name)) this.taken.add(name);
  }

  assertAllUsed(): void {
    const unused = [...this.byName.keys()].filter((name) => !this.taken.has(name));
    if (unused.length > 0) throw new WeightMismatchError(`the weights hold tensors the spec has no place for: ${unused.join(', ')}`);
  }
}
