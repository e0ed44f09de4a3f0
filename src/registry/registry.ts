import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EpochMetrics } from '../training/metrics.js';

/** Where runs are recorded unless told otherwise: $FKD_REGISTRY, else runs/registry.sqlite under the working directory. */
export function defaultRegistryPath(): string {
  return resolve(process.env.FKD_REGISTRY ?? resolve('runs', 'registry.sqlite'));
}

export type RunStatus = 'running' | 'finished' | 'failed' | 'interrupted';

export interface DataFileRecord {
  /** train, dev, test, unlabelled, … */
  role: string;
  path: string;
  sha256: string;
  rows?: number;
}

/** One epoch of a run's learning curve, as the trainer reports it. */
export type EpochRecord = EpochMetrics;

export interface RunRecord {
  id: string;
  name: string;
  /** The run's kind, e.g. train or fill. */
  kind: string;
  status: RunStatus;
  createdAt: string;
  finishedAt: string | null;
  runDir: string | null;
  model: string | null;
  seed: number | null;
  gitCommit: string | null;
  config: unknown;
  /** Final figures, e.g. { dev: { rmse, mse }, test: { rmse, mse, nme } }. */
  results: Record<string, Record<string, number>>;
  data: DataFileRecord[];
  artifacts: { kind: string; path: string; sha256: string | null }[];
  epochs: EpochRecord[];
  /** Parent run (e.g. a filling round's previous model). */
  parent: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  run_dir TEXT,
  model TEXT,
  seed INTEGER,
  git_commit TEXT,
  config_json TEXT NOT NULL,
  parent TEXT REFERENCES runs(id)
);
CREATE TABLE IF NOT EXISTS run_data (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  rows INTEGER,
  PRIMARY KEY (run_id, role)
);
CREATE TABLE IF NOT EXISTS epochs (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  learning_rate REAL,
  train_rmse REAL,
  dev_rmse REAL,
  seconds REAL,
  images_per_second REAL,
  PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS results (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  split TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, split, metric)
);
CREATE TABLE IF NOT EXISTS artifacts (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT,
  PRIMARY KEY (run_id, kind)
);
`;

/** NaN and infinities are stored as NULL (SQLite has no NaN) and come back as NaN. */
const toSql = (v: number): number | null => (Number.isFinite(v) ? v : null);
const fromSql = (v: number | null): number => (v === null ? Number.NaN : v);

/**
 * The experiment registry: one SQLite file recording every run's config, data files and
 * their checksums, seed, git commit, per-epoch metrics, final results and artifacts.
 */
export class Registry {
  private constructor(private readonly db: Database.Database, readonly path: string) {}

  static open(path = defaultRegistryPath()): Registry {
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    // WAL lets `fkd runs ls` read while a training process writes.
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    return new Registry(db, path);
  }

  /**
   * Open an existing registry for reading only: nothing in the file changes (no WAL switch, no
   * schema), so a snapshot kept in git stays as committed.
   */
  static openReadOnly(path: string): Registry {
    if (!existsSync(path)) throw new Error(`${path}: no registry file here`);
    return new Registry(new Database(path, { readonly: true, fileMustExist: true }), path);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Write a self-contained copy (one file, no WAL) to `file`, replacing it atomically: how the
   * runs behind published figures are kept with the code.
   */
  snapshot(file: string): void {
    const target = resolve(file);
    mkdirSync(dirname(target), { recursive: true });
    const temporary = `${target}.tmp-${process.pid}`;
    rmSync(temporary, { force: true });
    this.db.exec(`VACUUM INTO '${temporary.replace(/'/g, "''")}'`);
    const copy = new Database(temporary);
    copy.pragma('journal_mode = DELETE');
    copy.close();
    renameSync(temporary, target);
  }

  /** Record a new run, or mark an existing one (a resumed run) running again. */
  startRun(run: { id: string; name: string; kind: string; runDir?: string; model?: string; seed?: number; gitCommit?: string; config: unknown; parent?: string; data?: DataFileRecord[] }): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO runs (id, name, kind, status, created_at, run_dir, model, seed, git_commit, config_json, parent)
           VALUES (@id, @name, @kind, 'running', @now, @runDir, @model, @seed, @gitCommit, @config, @parent)
           ON CONFLICT(id) DO UPDATE SET status = 'running', finished_at = NULL`,
        )
        .run({
          id: run.id,
          name: run.name,
          kind: run.kind,
          now,
          runDir: run.runDir ?? null,
          model: run.model ?? null,
          seed: run.seed ?? null,
          gitCommit: run.gitCommit ?? null,
          config: JSON.stringify(run.config ?? null),
          parent: run.parent ?? null,
        });
      const insertData = this.db.prepare('INSERT OR REPLACE INTO run_data (run_id, role, path, sha256, rows) VALUES (?, ?, ?, ?, ?)');
      for (const d of run.data ?? []) insertData.run(run.id, d.role, d.path, d.sha256, d.rows ?? null);
    })();
  }

  logEpoch(runId: string, e: EpochRecord): void {
    this.db
      .prepare('INSERT OR REPLACE INTO epochs (run_id, epoch, learning_rate, train_rmse, dev_rmse, seconds, images_per_second) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(runId, e.epoch, toSql(e.learningRate), toSql(e.trainRmse), toSql(e.devRmse), toSql(e.seconds), toSql(e.imagesPerSecond));
  }

  setResults(runId: string, split: string, metrics: Record<string, number>): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO results (run_id, split, metric, value) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const [metric, value] of Object.entries(metrics)) insert.run(runId, split, metric, toSql(value));
    })();
  }

  addArtifact(runId: string, kind: string, path: string, sha256?: string): void {
    this.db.prepare('INSERT OR REPLACE INTO artifacts (run_id, kind, path, sha256) VALUES (?, ?, ?, ?)').run(runId, kind, path, sha256 ?? null);
  }

  finishRun(runId: string, status: Exclude<RunStatus, 'running'>): void {
    this.db.prepare('UPDATE runs SET status = ?, finished_at = ? WHERE id = ?').run(status, new Date().toISOString(), runId);
  }

  /** Every run, newest first. */
  listRuns(): RunRecord[] {
    const ids = this.db.prepare('SELECT id FROM runs ORDER BY created_at DESC, id DESC').pluck().all() as string[];
    return ids.map((id) => this.getRun(id)!);
  }

  /** A run by id, or by a unique id prefix or name. */
  findRun(key: string): RunRecord | undefined {
    const exact = this.getRun(key);
    if (exact) return exact;
    const matches = this.db.prepare("SELECT id FROM runs WHERE id LIKE ? || '%' OR name = ?").pluck().all(key, key) as string[];
    if (matches.length > 1) throw new Error(`"${key}" matches ${matches.length} runs (${matches.slice(0, 5).join(', ')}…): give more of the id`);
    return matches.length === 1 ? this.getRun(matches[0]) : undefined;
  }

  /** The newest run recorded with this run directory. */
  findRunByDir(runDir: string): RunRecord | undefined {
    const id = this.db.prepare('SELECT id FROM runs WHERE run_dir = ? ORDER BY created_at DESC LIMIT 1').pluck().get(runDir) as string | undefined;
    return id ? this.getRun(id) : undefined;
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    const results: Record<string, Record<string, number>> = {};
    for (const r of this.db.prepare('SELECT split, metric, value FROM results WHERE run_id = ?').all(id) as { split: string; metric: string; value: number | null }[]) {
      (results[r.split] ??= {})[r.metric] = fromSql(r.value);
    }
    return {
      id: row.id as string,
      name: row.name as string,
      kind: row.kind as string,
      status: row.status as RunStatus,
      createdAt: row.created_at as string,
      finishedAt: (row.finished_at as string | null) ?? null,
      runDir: (row.run_dir as string | null) ?? null,
      model: (row.model as string | null) ?? null,
      seed: (row.seed as number | null) ?? null,
      gitCommit: (row.git_commit as string | null) ?? null,
      config: JSON.parse(row.config_json as string),
      parent: (row.parent as string | null) ?? null,
      results,
      data: (this.db.prepare('SELECT role, path, sha256, rows FROM run_data WHERE run_id = ? ORDER BY role').all(id) as { role: string; path: string; sha256: string; rows: number | null }[]).map((d) => ({
        role: d.role,
        path: d.path,
        sha256: d.sha256,
        rows: d.rows ?? undefined,
      })),
      artifacts: this.db.prepare('SELECT kind, path, sha256 FROM artifacts WHERE run_id = ? ORDER BY kind').all(id) as RunRecord['artifacts'],
      epochs: (this.db.prepare('SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch').all(id) as Record<string, number | null>[]).map((e) => ({
        epoch: e.epoch as number,
        learningRate: fromSql(e.learning_rate),
        trainRmse: fromSql(e.train_rmse),
        devRmse: fromSql(e.dev_rmse),
        seconds: fromSql(e.seconds),
        imagesPerSecond: fromSql(e.images_per_second),
      })),
    };
  }
}
