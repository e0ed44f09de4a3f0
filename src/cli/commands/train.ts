import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readKaggleTraining } from '../../data/kaggle/read.js';
import { readTrainConfig, parseTrainConfig, resolveModelSpec, type TrainConfig } from '../../training/config.js';
import { splitForDev, type TrainData } from '../../training/trainer.js';
import { RunDirectory } from '../../training/run-directory.js';
import { UsageError } from '../../util/usage-error.js';
import { trainWithProgress } from '../training-session.js';
import { parseIntOption } from '../options.js';

async function loadData(config: TrainConfig): Promise<TrainData> {
  const train = await readKaggleTraining(config.data.train);
  if (config.data.dev) return { train, dev: await readKaggleTraining(config.data.dev) };
  return splitForDev(train, config.data.devFraction, config.seed);
}

export function registerTrainCommands(program: Command): void {
  program
    .command('train')
    .description('Train a keypoint model with the libtorch engine on Kaggle-format CSVs')
    .option('-c, --config <file>', 'training config (JSON; see configs/)')
    .option('-o, --out <dir>', 'run directory (default runs/<config name>)')
    .option('--resume <run>', 'continue an interrupted run from its last checkpoint')
    .option('--threads <n>', 'intra-op threads (overrides the config; 0 = all cores)')
    .option('--registry <file>', 'experiment registry to record the run in (default: $FKD_REGISTRY or runs/registry.sqlite)')
    .option('--no-registry', 'do not record the run')
    .action(async (options: { config?: string; out?: string; resume?: string; threads?: string; registry?: string | boolean }) => {
      if (!options.config === !options.resume) throw new UsageError('give either --config FILE (a new run) or --resume RUN (continue a run)');
      let config: TrainConfig;
      let runDir: string;
      if (options.resume) {
        if (options.out) throw new UsageError('--out cannot be combined with --resume (the run directory is the one resumed)');
        runDir = resolve(options.resume);
        const run = new RunDirectory(runDir);
        if (!existsSync(run.config)) throw new UsageError(`${runDir}: not a run directory (no config.json)`);
        config = parseTrainConfig(await run.readConfig(), run.config, runDir);
      } else {
        config = await readTrainConfig(options.config!);
        runDir = resolve(options.out ?? `runs/${config.name}`);
        if (existsSync(new RunDirectory(runDir).lastCheckpoint)) {
          throw new UsageError(`${runDir} already holds a run; continue it with --resume ${runDir} or choose another --out`);
        }
      }
      if (options.threads !== undefined) config = { ...config, threads: parseIntOption('--threads', options.threads, 0, 1024) };
      const spec = await resolveModelSpec(config);
      const data = await loadData(config);
      const registry = options.registry === false ? null : typeof options.registry === 'string' ? options.registry : undefined;
      await trainWithProgress(config, spec, data, runDir, { resume: Boolean(options.resume), registry });
    });
}
