import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
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
export async function streamFileAtomic(path: string, produce: (out: BufferedWriter) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const stream = createWriteStream(tmp);
  const writer = new BufferedWriter(stream);
  try {
    await produce(writer);
    await writer.close();
    await rename(tmp, path);
  } catch (err) {
    stream.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Accumulates text and flushes large chunks, waiting on back-pressure. */
export class BufferedWriter {
  private parts: string[] = [];
  private pending = 0;
  constructor(private readonly stream: WriteStream, private readonly chunkChars = 1 << 20) {}

  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.pending += text.length;
    if (this.pending >= this.chunkChars) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(resolve);
    });
  }
}
