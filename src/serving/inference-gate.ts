/**
 * Bounded admission to the pipeline: at most `maxConcurrent` jobs run, at most `maxQueued`
 * wait (first come, first served), and the rest are refused at once with 503, so that a burst
 * of requests can neither grow memory without bound nor make every client wait forever.
 */
import { ApiError } from './api-error.js';

export interface GateStats {
  running: number;
  queued: number;
  refused: number;
}

export class InferenceGate {
  private running = 0;
  private refused = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued must be a non-negative integer, got ${maxQueued}`);
  }

  get stats(): GateStats {
    return { running: this.running, queued: this.waiting.length, refused: this.refused };
  }

  /** Runs `job` when a slot is free; `queueMs` is how long it waited for one. */
  async run<T>(job: () => Promise<T>): Promise<{ value: T; queueMs: number }> {
    const arrived = performance.now();
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued) {
        this.refused++;
        throw new ApiError(503, 'overloaded', `server busy: ${this.running} images in progress and ${this.waiting.length} waiting; try again shortly`, { 'retry-after': '1' });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    const queueMs = performance.now() - arrived;
    try {
      return { value: await job(), queueMs };
    } finally {
      // Hand the slot straight to the next waiter (running stays the same) or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
