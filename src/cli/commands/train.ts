import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readKaggleTraining } from '../../data/kaggle/read.js';
import { readTrainConfig, parseTrainConfig, resolveModelSpec, type TrainConfig } from '../../training/config.js';
import { splitForDev, trainRun, type TrainData } from '../../training/trainer.js';
import { RunDirectory } from '../../training/run-directory.js';
import { UsageError } from '../../util/usage-error.js';
import { progressBar } from '../progress.js';
import { parseIntOption } from '../options.js';

async function loadData(config: TrainConfig): Promise<TrainData> {
  const train = await readKaggleTraining(config.data.train);
  if (config.data.dev) return { train, dev: await readKaggleTraining(config.data.dev) };
  return splitForDev(train, config.data.devFraction, config.seed);
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

async function runTraining(config: TrainConfig, runDir: string, resume: boolean): Promise<void> {
  const spec = await resolveModelSpec(config);
  const data = await loadData(config);
  const bar = progressBar('batches', 'epoch {epoch} {bar} batch {value}/{total} | loss {loss} | dev RMSE {dev} | {speed} img/s | ETA {eta}');
  let epochs = config.epochs;
  let batchesPerEpoch = 1;
  let firstEpoch = 0;
  let lastDev = '-';
  const started = Date.now();
  let epochStarted = Date.now();
  const remaining = (epoch: number, batch: number): string => {
    const batchesDone = (epoch - firstEpoch) * batchesPerEpoch + batch;
    const batchesLeft = (epochs - epoch) * batchesPerEpoch - batch;
    return formatDuration(((Date.now() - started) / 1000 / Math.max(1, batchesDone)) * batchesLeft);
  };
  try {
    const result = await trainRun(config, spec, data, runDir, {
      resume,
      events: {
        onStart(info) {
          epochs = info.epochs;
          batchesPerEpoch = info.batchesPerEpoch;
          firstEpoch = info.startEpoch;
          const verb = info.startEpoch > 0 ? `resuming after epoch ${info.startEpoch}` : 'training';
          process.stdout.write(`${verb}: ${spec.name ?? 'model'} (${info.parameters} parameters), ${info.trainFaces} train / ${info.devFaces} dev faces -> ${runDir}\n`);
        },
        onBatch({ epoch, batch, batches, loss }) {
          if (batch === 1) epochStarted = Date.now();
          const seconds = (Date.now() - epochStarted) / 1000;
          const speed = seconds > 0 ? Math.round((Math.min(batch * config.batchSize, data.train.size) / seconds)) : 0;
          bar.update(batch, batches, { epoch: `${epoch + 1}/${epochs}`, loss: loss.toFixed(5), dev: lastDev, speed, eta: remaining(epoch, batch) });
        },
        onEpoch(metrics, { best }) {
          lastDev = metrics.devRmse.toFixed(3);
          process.stdout.write(
            `epoch ${metrics.epoch}/${epochs}: train RMSE ${metrics.trainRmse.toFixed(3)} px, dev RMSE ${lastDev} px${best ? ' (best)' : ''}, lr ${metrics.learningRate.toPrecision(3)}, ${Math.round(metrics.imagesPerSecond)} img/s\n`,
          );
        },
      },
    });
    bar.stop();
    const { state } = result;
    const why = state.earlyStopped ? `stopped early after epoch ${state.epochsDone}` : `finished ${state.epochsDone} epochs`;
    process.stdout.write(`${why}; best dev RMSE ${state.stopping.best?.toFixed(3)} px at epoch ${state.stopping.bestEpoch}; run in ${runDir}\n`);
  } finally {
    bar.stop();
  }
}

export function registerTrainCommands(program: Command): void {
  program
    .command('train')
    .description('Train a keypoint model with the libtorch engine on Kaggle-format CSVs')
    .option('-c, --config <file>', 'training config (JSON; see configs/)')
    .option('-o, --out <dir>', 'run directory (default runs/<config name>)')
    .option('--resume <run>', 'continue an interrupted run from its last checkpoint')
    .option('--threads <n>', 'intra-op threads (overrides the config; 0 = all cores)')
    .action(async (options: { config?: string; out?: string; resume?: string; threads?: string }) => {
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
      await runTraining(config, runDir, Boolean(options.resume));
    });
}
