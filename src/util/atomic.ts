import { open, mkdir, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Write a whole file so that readers see either the old file or the complete new one. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Stream into a temp file, renamed onto `path` only when `produce` finishes without error;
 * on error the temp file is removed and nothing is left at `path`.
 */
export async function streamFileAtomic(path: string, produce: (sink: ByteSink) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'w');
  try {
    const sink = new ByteSink(handle);
    await produce(sink);
    await sink.flush();
    await handle.close();
    await rename(tmp, path);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Decimal ASCII of 0..255, for writing pixel lists without building strings. */
const BYTE_DECIMALS: readonly Uint8Array[] = Array.from({ length: 256 }, (_, v) => Buffer.from(String(v), 'latin1'));

/** A write buffer over a file handle that takes ASCII text and raw bytes. */
export class ByteSink {
  private readonly buffer: Buffer;
  private used = 0;
  constructor(private readonly handle: FileHandle, capacity = 4 << 20) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  /** Make room for `n` bytes, flushing when the buffer is full. */
  async reserve(n: number): Promise<void> {
    if (this.used + n > this.buffer.length) await this.flush();
    if (n > this.buffer.length) throw new Error(`ByteSink: ${n} bytes exceed the buffer`);
  }

  async text(s: string): Promise<void> {
    const n = Buffer.byteLength(s, 'utf8');
    await this.reserve(n);
    this.used += this.buffer.write(s, this.used, 'utf8');
  }

  /** Space-separated decimal bytes (Kaggle's Image column). Needs reserve(values.length * 4). */
  bytesAsDecimals(values: Uint8Array): void {
    const buf = this.buffer;
    let at = this.used;
    for (let i = 0; i < values.length; i++) {
      if (i > 0) buf[at++] = 32;
      const digits = BYTE_DECIMALS[values[i]];
      for (let d = 0; d < digits.length; d++) buf[at++] = digits[d];
    }
    this.used = at;
  }

  async flush(): Promise<void> {
    let offset = 0;
    while (offset < this.used) {
      const { bytesWritten } = await this.handle.write(this.buffer, offset, this.used - offset);
      offset += bytesWritten;
    }
    this.used = 0;
  }
}
