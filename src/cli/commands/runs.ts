import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Registry, defaultRegistryPath, type RunRecord } from '../../registry/registry.js';
import { UsageError } from '../../util/usage-error.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { learningCurvesSpec, vegaLiteToPng } from '../../viz/charts.js';
import { formatTable } from '../table.js';
import { recordRunDirectory } from '../../registry/record.js';

const fmt = (v: number | undefined, digits = 3): string => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));

function bestDev(run: RunRecord): number | undefined {
  const values = run.epochs.map((e) => e.devRmse).filter((v) => !Number.isNaN(v));
  return values.length ? Math.min(...values) : undefined;
}

function openRegistry(path: string | undefined): Registry {
  return Registry.open(path ?? defaultRegistryPath());
}

/** For commands that only read: leaves the file untouched (a committed snapshot stays clean). */
function openRegistryToRead(path: string | undefined): Registry {
  const file = path ?? defaultRegistryPath();
  if (!existsSync(file)) throw new UsageError(`no registry at ${file} (train a run first, or pass --registry)`);
  return Registry.openReadOnly(file);
}

function findOrFail(registry: Registry, key: string): RunRecord {
  const run = registry.findRun(key);
  if (!run) throw new UsageError(`no run "${key}" in ${registry.path} (see fkd runs ls)`);
  return run;
}

/** The comparison table: the seed's table of steps, with dev and test errors side by side. */
export function comparisonTable(runs: readonly RunRecord[]): string {
  return formatTable(
    ['run', 'name', 'model', 'epochs', 'best dev RMSE', 'dev MSE', 'dev RMSE', 'test MSE', 'test RMSE', 'status'],
    runs.map((r) => [
      r.id,
      r.name,
      r.model ?? '-',
      String(r.epochs.length),
      fmt(bestDev(r)),
      fmt(r.results.dev?.mse),
      fmt(r.results.dev?.rmse),
      fmt(r.results.test?.mse),
      fmt(r.results.test?.rmse),
      r.status,
    ]),
  );
}

export function registerRunsCommands(program: Command): void {
  const runs = program
    .command('runs')
    .description('The experiment registry: every training run with its config, data checksums, metrics and artifacts')
    .option('--registry <file>', 'SQLite registry file (default: $FKD_REGISTRY or runs/registry.sqlite)');
  const registryOption = (): string | undefined => runs.opts<{ registry?: string }>().registry;

  runs
    .command('ls')
    .description('List runs, newest first')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const registry = openRegistryToRead(registryOption());
      try {
        const all = registry.listRuns();
        if (options.json) {
          process.stdout.write(JSON.stringify(all.map(({ epochs, ...r }) => ({ ...r, epochCount: epochs.length, bestDevRmse: bestDev({ epochs } as RunRecord) ?? null })), null, 2) + '\n');
          return;
        }
        if (all.length === 0) {
          process.stdout.write(`no runs recorded in ${registry.path}\n`);
          return;
        }
        process.stdout.write(
          formatTable(
            ['run', 'name', 'kind', 'model', 'status', 'epochs', 'best dev RMSE', 'test RMSE', 'created'],
            all.map((r) => [r.id, r.name, r.kind, r.model ?? '-', r.status, String(r.epochs.length), fmt(bestDev(r)), fmt(r.results.test?.rmse), r.createdAt.slice(0, 19).replace('T', ' ')]),
          ) + '\n',
        );
      } finally {
        registry.close();
      }
    });

  runs
    .command('snapshot')
    .description('Copy the registry into one self-contained SQLite file (e.g. results/registry.sqlite, kept in git with the figures it backs)')
    .argument('<file>', 'where to write the copy (replaced atomically)')
    .action((file: string) => {
      const registry = openRegistryToRead(registryOption());
      try {
        registry.snapshot(file);
        process.stdout.write(`${registry.listRuns().length} runs copied from ${registry.path} to ${file}\n`);
      } finally {
        registry.close();
      }
    });

  runs
    .command('add')
    .description('Record a finished run directory trained without the registry (elsewhere, or before it existed)')
    .argument('<run-dir>', 'training run directory (config.json, metrics.json, best.fkd)')
    .option('--name <name>', 'name to record (default: the config\'s name)')
    .action(async (runDir: string, options: { name?: string }) => {
      const registry = openRegistry(registryOption());
      try {
        const id = await recordRunDirectory(registry, runDir, { name: options.name });
        process.stdout.write(`recorded ${runDir} as run ${id} in ${registry.path}\n`);
      } finally {
        registry.close();
      }
    });

  runs
    .command('show')
    .description('Everything recorded about one run')
    .argument('<run>', 'run id (or a unique prefix) or name')
    .option('--json', 'print JSON')
    .action((key: string, options: { json?: boolean }) => {
      const registry = openRegistryToRead(registryOption());
      try {
        const run = findOrFail(registry, key);
        if (options.json) {
          process.stdout.write(JSON.stringify(run, null, 2) + '\n');
          return;
        }
        const lines = [
          `run ${run.id} (${run.name}), ${run.kind}, ${run.status}`,
          `created ${run.createdAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`,
          `model ${run.model ?? '-'}, seed ${run.seed ?? '-'}, git ${run.gitCommit ?? '-'}`,
          `run directory ${run.runDir ?? '-'}${run.parent ? `, parent run ${run.parent}` : ''}`,
          '',
          'data:',
          ...run.data.map((d) => `  ${d.role.padEnd(11)} ${d.path}  sha256 ${d.sha256.slice(0, 16)}…${d.rows !== undefined ? `  ${d.rows} rows` : ''}`),
          '',
          'results:',
          ...Object.entries(run.results).map(([split, m]) => `  ${split.padEnd(11)} ${Object.entries(m).map(([k, v]) => `${k} ${fmt(v, 4)}`).join(', ')}`),
          '',
          `epochs: ${run.epochs.length}${run.epochs.length ? `, best dev RMSE ${fmt(bestDev(run))}, last dev RMSE ${fmt(run.epochs.at(-1)!.devRmse)}` : ''}`,
          'artifacts:',
          ...run.artifacts.map((a) => `  ${a.kind.padEnd(11)} ${a.path}`),
          '',
          'config:',
          JSON.stringify(run.config, null, 2),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        registry.close();
      }
    });

  runs
    .command('compare')
    .description('A table of runs side by side and their learning curves overlaid in one picture')
    .argument('<runs...>', 'run ids (or unique prefixes) or names')
    .option('--plot <png>', 'where to write the learning curves (default: compare.png beside the registry)')
    .option('--json', 'print JSON instead of the table')
    .action(async (keys: string[], options: { plot?: string; json?: boolean }) => {
      const registry = openRegistryToRead(registryOption());
      try {
        const chosen = keys.map((k) => findOrFail(registry, k));
        if (options.json) {
          process.stdout.write(JSON.stringify(chosen.map((r) => ({ id: r.id, name: r.name, model: r.model, epochs: r.epochs.length, bestDevRmse: bestDev(r) ?? null, results: r.results })), null, 2) + '\n');
        } else {
          process.stdout.write(comparisonTable(chosen) + '\n');
        }
        const plot = options.plot ?? join(dirname(registry.path), 'compare.png');
        const withEpochs = chosen.filter((r) => r.epochs.length > 0);
        if (withEpochs.length > 0) {
          const png = await vegaLiteToPng(learningCurvesSpec(withEpochs.map((r) => ({ run: `${r.name} (${r.id})`, rows: r.epochs })), 'learning curves'));
          await writeFileAtomic(plot, png);
          if (!options.json) process.stdout.write(`learning curves: ${plot}\n`);
        }
      } finally {
        registry.close();
      }
    });
}
