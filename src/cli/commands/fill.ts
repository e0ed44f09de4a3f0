import type { Command } from 'commander';
import { resolve } from 'node:path';
import { readKaggleTest, readKaggleTraining } from '../../data/kaggle/read.js';
import { readTrainConfig, resolveModelSpec } from '../../training/config.js';
import { roundDir, runFill } from '../../training/fill.js';
import { Registry, defaultRegistryPath } from '../../registry/registry.js';
import { UsageError } from '../../util/usage-error.js';
import { parseIntOption } from '../options.js';
import { trainWithProgress } from '../training-session.js';
import { formatTable } from '../table.js';

export function registerFillCommands(program: Command): void {
  program
    .command('fill')
    .description(
      'Semi-supervised filling: train on the fully labelled rows, predict the missing keypoints of the others (and of unlabelled faces), retrain on the filled set; repeat',
    )
    .requiredOption('-c, --config <file>', 'training config (data.train: a training.csv with missing keypoints; data.dev: labelled dev faces)')
    .option('--rounds <n>', 'retraining rounds after the first model (the seed did 3)', '3')
    .option('--unlabelled <csv>', 'also fill and train on these unlabelled faces (Kaggle test.csv layout, e.g. data/ytf15/unlabelled.csv)')
    .option('--first-round <rows>', "what round 0 trains on: 'complete' (fully labelled rows, as the seed did) or 'all' (every row, missing points masked)", 'complete')
    .option('-o, --out <dir>', 'folder for the rounds and filled CSVs (default runs/<config name>); rerunning continues where it stopped')
    .option('--registry <file>', 'experiment registry (default: $FKD_REGISTRY or runs/registry.sqlite)')
    .option('--no-registry', 'do not record the runs')
    .action(async (options: { config: string; rounds: string; firstRound: string; unlabelled?: string; out?: string; registry?: string | boolean }) => {
      const rounds = parseIntOption('--rounds', options.rounds, 0, 20);
      const firstRound = options.firstRound;
      if (firstRound !== 'complete' && firstRound !== 'all') throw new UsageError(`--first-round must be 'complete' or 'all', got '${firstRound}'`);
      const config = await readTrainConfig(options.config);
      if (!config.data.dev) throw new UsageError(`${options.config}: filling needs data.dev (labelled faces to choose each round's model on)`);
      const spec = await resolveModelSpec(config);
      const outDir = resolve(options.out ?? `runs/${config.name}`);
      const registryPath = options.registry === false ? null : typeof options.registry === 'string' ? options.registry : defaultRegistryPath();
      const data = { train: await readKaggleTraining(config.data.train), dev: await readKaggleTraining(config.data.dev) };
      const unlabelled = options.unlabelled ? await readKaggleTest(options.unlabelled) : undefined;

      const previousRunId = (round: number): string | undefined => {
        if (!registryPath || round === 0) return undefined;
        const registry = Registry.open(registryPath);
        try {
          return registry.findRunByDir(roundDir(outDir, round - 1))?.id;
        } finally {
          registry.close();
        }
      };
      const summaries = await runFill({ config, spec, data, unlabelled, rounds, outDir, firstRound }, async (round, roundConfig, roundData, runDir, resume) => {
        process.stdout.write(`\nround ${round}: ${round === 0 ? (firstRound === 'all' ? 'every row, missing points masked' : 'fully labelled rows only') : 'the set filled by the previous round'}\n`);
        return trainWithProgress(roundConfig, spec, roundData, runDir, { resume, registry: registryPath, kind: 'fill-round', parent: previousRunId(round) });
      });
      process.stdout.write(
        '\n' +
          formatTable(
            ['round', 'train faces', 'predicted coordinates', 'best dev RMSE', 'filled file'],
            summaries.map((s) => [String(s.round), String(s.trainFaces), String(s.predictedCoordinates), s.bestDevRmse.toFixed(3), s.filledFile ?? '-']),
          ) +
          '\n',
      );
    });
}
