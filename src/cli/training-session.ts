import type { TrainConfig } from '../training/config.js';
import { trainRun, type TrainData, type TrainResult } from '../training/trainer.js';
import type { ModelSpec } from '../models/spec.js';
import { Registry, defaultRegistryPath } from '../registry/registry.js';
import { recordRunEnd, recordRunStart } from '../registry/record.js';
import { progressBar } from './progress.js';

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export interface SessionOptions {
  resume: boolean;
  /** Registry file; null = do not record. Default: $FKD_REGISTRY or runs/registry.sqlite. */
  registry?: string | null;
  /** Recorded run kind (train, fill-round, …) and parent run id. */
  kind?: string;
  parent?: string;
}

/**
 * One training run as the CLI runs it: a progress bar (epoch, batch, loss, dev RMSE, img/s,
 * ETA), a line per epoch, and the run recorded in the experiment registry (config, data
 * checksums, seed, git commit, every epoch, the end state and artifacts).
 */
export async function trainWithProgress(config: TrainConfig, spec: ModelSpec, data: TrainData, runDir: string, options: SessionOptions): Promise<TrainResult & { runId?: string }> {
  const registry = options.registry === null ? undefined : Registry.open(options.registry ?? defaultRegistryPath());
  const runId = registry
    ? await recordRunStart(registry, {
        runDir,
        name: config.name,
        model: typeof config.model === 'string' ? config.model : (spec.name ?? 'custom'),
        seed: config.seed,
        config,
        data: { train: config.data.train, dev: config.data.dev },
        rows: { train: data.train.size, dev: data.dev.size },
        kind: options.kind,
        parent: options.parent,
      })
    : undefined;
  // One bar per epoch, stopped before the epoch's summary line so that the two never share a line.
  const newBar = () => progressBar('batches', 'epoch {epoch} {bar} batch {value}/{total} | loss {loss} | dev RMSE {dev} | {speed} img/s | ETA {remaining}');
  let bar = newBar();
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
  let status: 'finished' | 'failed' | 'interrupted' = 'failed';
  let history: TrainResult['state']['history'] = [];
  // A Ctrl-C or kill between epochs leaves the run marked interrupted, not running.
  const onSignal = (): void => {
    if (registry && runId) {
      registry.finishRun(runId, 'interrupted');
      registry.close();
    }
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await trainRun(config, spec, data, runDir, {
      resume: options.resume,
      events: {
        onStart(info) {
          epochs = info.epochs;
          batchesPerEpoch = info.batchesPerEpoch;
          firstEpoch = info.startEpoch;
          const verb = info.startEpoch > 0 ? `resuming after epoch ${info.startEpoch}` : 'training';
          process.stdout.write(`${verb}: ${spec.name ?? 'model'} (${info.parameters} parameters), ${info.trainFaces} train / ${info.devFaces} dev faces -> ${runDir}\n`);
        },
        onBatch({ epoch, batch, batches, loss }) {
          if (batch === 1) {
            epochStarted = Date.now();
            bar.stop();
            bar = newBar();
          }
          const seconds = (Date.now() - epochStarted) / 1000;
          const speed = seconds > 0 ? Math.round(Math.min(batch * config.batchSize, data.train.size) / seconds) : 0;
          bar.update(batch, batches, { epoch: `${epoch + 1}/${epochs}`, loss: loss.toFixed(5), dev: lastDev, speed, remaining: remaining(epoch, batch) });
        },
        onEpoch(metrics, { best }) {
          bar.stop();
          lastDev = metrics.devRmse.toFixed(3);
          if (registry && runId) registry.logEpoch(runId, metrics);
          process.stdout.write(
            `epoch ${metrics.epoch}/${epochs}: train RMSE ${metrics.trainRmse.toFixed(3)} px, dev RMSE ${lastDev} px${best ? ' (best)' : ''}, lr ${metrics.learningRate.toPrecision(3)}, ${Math.round(metrics.imagesPerSecond)} img/s\n`,
          );
        },
      },
    });
    bar.stop();
    history = result.state.history;
    status = 'finished';
    const { state } = result;
    const why = state.earlyStopped ? `stopped early after epoch ${state.epochsDone}` : `finished ${state.epochsDone} epochs`;
    process.stdout.write(`${why}; best dev RMSE ${state.stopping.best?.toFixed(3)} px at epoch ${state.stopping.bestEpoch}; run in ${runDir}${runId ? ` (registry run ${runId})` : ''}\n`);
    return { ...result, runId };
  } finally {
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (registry && runId) {
      if (status !== 'finished') {
        registry.finishRun(runId, status);
      } else {
        recordRunEnd(registry, runId, runDir, status, history);
      }
      registry.close();
    }
  }
}
