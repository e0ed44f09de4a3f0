import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../data/errors.js';
import type { Registry, DataFileRecord, EpochRecord, RunStatus } from './registry.js';
import { gitCommit, sha256File } from './provenance.js';

/** What the registry needs to know of a training run. */
export interface TrainingRunInfo {
  runDir: string;
  name: string;
  /** Shipped spec name, or the spec's own name. */
  model: string;
  seed: number;
  config: unknown;
  /** Data files by role (train, dev, …). */
  data: Record<string, string | undefined>;
  /** Rows per role, when known. */
  rows?: Record<string, number>;
  kind?: string;
  parent?: string;
}

function timestampId(name: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${name}-${stamp}`;
}

/**
 * Record a training run at its start (or its resumption: the same run directory keeps its
 * run id). Data files are checksummed so that a figure can be traced to exact inputs.
 */
export async function recordRunStart(registry: Registry, info: TrainingRunInfo): Promise<string> {
  const runDir = resolve(info.runDir);
  const existing = registry.findRunByDir(runDir);
  const id = existing?.id ?? timestampId(info.name);
  const data: DataFileRecord[] = [];
  for (const [role, path] of Object.entries(info.data)) {
    if (!path) continue;
    data.push({ role, path: resolve(path), sha256: await sha256File(path), rows: info.rows?.[role] });
  }
  registry.startRun({
    id,
    name: info.name,
    kind: info.kind ?? 'train',
    runDir,
    model: info.model,
    seed: info.seed,
    gitCommit: gitCommit() ?? undefined,
    config: info.config,
    parent: info.parent,
    data,
  });
  return id;
}

/** Record the end of a run: its status, best dev figures and its files. */
export function recordRunEnd(registry: Registry, id: string, runDir: string, status: Exclude<RunStatus, 'running'>, epochs: readonly EpochRecord[]): void {
  const finite = epochs.filter((e) => Number.isFinite(e.devRmse));
  if (finite.length) {
    const best = finite.reduce((a, b) => (b.devRmse < a.devRmse ? b : a));
    registry.setResults(id, 'dev', { rmse: best.devRmse, mse: best.devRmse ** 2, epoch: best.epoch });
  }
  for (const [kind, file] of [
    ['best', 'best.fkd'],
    ['last', 'last.fkd'],
    ['config', 'config.json'],
    ['metrics', 'metrics.json'],
    ['curve', 'learning-curve.png'],
  ] as const) {
    const path = join(resolve(runDir), file);
    if (existsSync(path)) registry.addArtifact(id, kind, path);
  }
  registry.finishRun(id, status);
}

/**
 * Record a finished run directory that was trained without the registry (elsewhere, or
 * before it existed): config.json and metrics.json are read from the directory.
 */
export async function recordRunDirectory(registry: Registry, runDir: string, options: { name?: string; rows?: Record<string, number> } = {}): Promise<string> {
  const configFile = join(runDir, 'config.json');
  const metricsFile = join(runDir, 'metrics.json');
  if (!existsSync(configFile)) throw new InputError({ file: configFile }, 'not found: is this a training run directory?');
  let config: { name?: string; model?: unknown; seed?: number; data?: { train?: string; dev?: string } };
  let epochs: EpochRecord[];
  try {
    config = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (err) {
    throw new InputError({ file: configFile }, `not valid JSON: ${(err as Error).message}`);
  }
  try {
    epochs = existsSync(metricsFile) ? JSON.parse(await readFile(metricsFile, 'utf8')) : [];
  } catch (err) {
    throw new InputError({ file: metricsFile }, `not valid JSON: ${(err as Error).message}`);
  }
  const model = typeof config.model === 'string' ? config.model : ((config.model as { name?: string } | undefined)?.name ?? 'custom');
  const id = await recordRunStart(registry, {
    runDir,
    name: options.name ?? config.name ?? basename(runDir),
    model,
    seed: config.seed ?? 0,
    config,
    data: { train: config.data?.train, dev: config.data?.dev },
    rows: options.rows,
  });
  for (const e of epochs) registry.logEpoch(id, e);
  recordRunEnd(registry, id, runDir, 'finished', epochs);
  return id;
}
