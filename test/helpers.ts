import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { dataRoot } from '../src/util/paths.js';
import { FACE_PIXELS, type KeypointSet } from '../src/data/dataset.js';

// Runs started by tests (and the CLIs they spawn, which inherit this) never land in the
// working tree's experiment registry.
process.env.FKD_REGISTRY ??= join(tmpdir(), `fkd-test-registry-${process.pid}.sqlite`);

/** A fresh temp folder, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'fkd-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Path of a shared data item, or undefined after marking the test skipped with a message
 * that says what is missing (never a silent pass).
 */
export function sharedData(t: TestContext, sub: string): string | undefined {
  const path = resolve(dataRoot(), sub);
  if (existsSync(path)) return path;
  t.skip(`shared data not found at ${path} (set FKD_DATA to the shared data folder)`);
  return undefined;
}

/** A small random set with some keypoints missing (15 Kaggle points, or `points` points, e.g. 68). */
export function randomKeypointSet(size: number, seed = 1, points = 15): KeypointSet {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const images = new Uint8Array(size * FACE_PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(next() * 256);
  const keypoints = new Float64Array(size * points * 2);
  for (let i = 0; i < keypoints.length; i += 2) {
    const missing = next() < 0.3;
    keypoints[i] = missing ? Number.NaN : next() * 96;
    keypoints[i + 1] = missing ? Number.NaN : next() * 96;
  }
  return { size, pointCount: points, images, keypoints };
}

/** The installed CLI entry (bin/fkd.js over dist/, built by `npm test` first), spawned as a user would. */
export const CLI = resolve(new URL('.', import.meta.url).pathname, '..', 'bin', 'fkd.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `fkd ARGS…` and collect its output. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
