import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { readKaggleTraining } from '../../data/kaggle/read.js';
import { schemaByName, schemaOfSet, type KeypointSchema } from '../../schema/index.js';
import { evaluateKeypoints, type Evaluation } from '../../evaluation/metrics.js';
import { loadPredictor, type KeypointPredictor } from '../../evaluation/predictor.js';
import { writeEvaluationReport } from '../../evaluation/report.js';
import { Registry, defaultRegistryPath } from '../../registry/registry.js';
import { UsageError } from '../../util/usage-error.js';
import { formatTable } from '../table.js';

const fmt = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

export function formatEvaluation(e: Evaluation): string {
  return [
    `faces ${e.faces}, labelled coordinates ${e.coordinates}`,
    `MSE ${fmt(e.mse, 4)}  RMSE ${fmt(e.rmse, 4)} px  NME ${fmt(e.nme, 4)}  failure rate (NME > 0.10) ${fmt(e.failureRate, 4)}  AUC@0.08 ${fmt(e.aucAt008, 4)}`,
    '',
    formatTable(
      ['keypoint', 'coordinates', 'MSE', 'RMSE', 'mean distance'],
      e.perKeypoint.map((k) => [k.name, String(k.coordinates), fmt(k.mse), fmt(k.rmse), fmt(k.meanDistance)]),
    ),
  ].join('\n');
}

async function learningCurveOf(runDir: string | undefined): Promise<{ epoch: number; trainRmse: number; devRmse: number }[] | undefined> {
  if (!runDir || !existsSync(join(runDir, 'metrics.json'))) return undefined;
  return JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8'));
}

/** The model's keypoint schema, which must be one fkd knows and match its point count. */
function predictorSchema(target: string, predictor: KeypointPredictor): KeypointSchema {
  let schema: KeypointSchema;
  try {
    schema = schemaByName(predictor.schema);
  } catch (err) {
    throw new UsageError(`${target}: ${(err as Error).message}`);
  }
  if (schema.points.length !== predictor.pointCount) {
    throw new UsageError(`${target} predicts ${predictor.pointCount} points but says its schema is ${schema.name} (${schema.points.length} points)`);
  }
  return schema;
}

export function registerEvaluateCommands(program: Command): void {
  program
    .command('evaluate')
    .description('Score a run or model on labelled faces: MSE/RMSE overall and per keypoint, NME, error distribution, and an HTML report')
    .argument('<target>', 'training run directory, fkd model file (.fkd) or ONNX model')
    .requiredOption('-d, --data <csv>', "labelled Kaggle-format CSV of the model's schema (e.g. data/ytf15/test.csv; data/ytf68crop/test.csv for 68-point models)")
    .option('--split <name>', 'name of the split the data is (default: the file name, e.g. test)')
    .option('--report <dir>', 'where to write the HTML report (default: <run>/evaluation-<split>, or evaluation-<model>-<split>)')
    .option('--no-report', 'print the figures only')
    .option('--registry <file>', 'record the results on the run in this registry (default: $FKD_REGISTRY or runs/registry.sqlite, when the run is there)')
    .option('--json', 'print the figures as JSON')
    .action(async (target: string, options: { data: string; split?: string; report: string | boolean; registry?: string; json?: boolean }) => {
      const predictor = await loadPredictor(resolve(target));
      const schema = predictorSchema(target, predictor);
      const labels = await readKaggleTraining(options.data);
      const dataSchema = schemaOfSet(labels);
      if (dataSchema.name !== schema.name) {
        throw new UsageError(
          `${target} predicts ${predictor.pointCount} ${schema.name} keypoints; ${options.data} holds ${labels.pointCount} ${dataSchema.name} keypoints per face: ` +
            `evaluate it on a ${schema.name} file (${schema.name === 'ibug68' ? 'e.g. one built by "fkd data build-ytf15 --points 68"' : 'e.g. data/ytf15/test.csv'})`,
        );
      }
      const predictions = await predictor.predict(labels.images, labels.size);
      const evaluation = evaluateKeypoints(predictions, labels.keypoints, schema);
      const split = options.split ?? basename(options.data, extname(options.data));

      if (options.json) {
        const { perFace, ced, ...summary } = evaluation;
        process.stdout.write(JSON.stringify({ model: predictor.name, data: options.data, split, ...summary }, null, 2) + '\n');
      } else {
        process.stdout.write(`${predictor.name} on ${options.data} (${split})\n${formatEvaluation(evaluation)}\n`);
      }

      if (options.report !== false) {
        const dir = typeof options.report === 'string' ? options.report : predictor.runDir ? join(predictor.runDir, `evaluation-${split}`) : `evaluation-${basename(target, extname(target))}-${split}`;
        const html = await writeEvaluationReport(dir, {
          title: `${predictor.name} on ${split}`,
          model: predictor.name,
          dataFile: options.data,
          schema,
          evaluation,
          labels,
          predictions,
          learningCurve: await learningCurveOf(predictor.runDir),
        });
        if (!options.json) process.stdout.write(`report: ${html}\n`);
      }

      const registryPath = options.registry ?? defaultRegistryPath();
      if (predictor.runDir && existsSync(registryPath)) {
        const registry = Registry.open(registryPath);
        try {
          const run = registry.findRunByDir(resolve(predictor.runDir));
          if (run) {
            registry.setResults(run.id, split, { mse: evaluation.mse, rmse: evaluation.rmse, nme: evaluation.nme, faces: evaluation.faces });
            if (!options.json) process.stdout.write(`recorded ${split} results on run ${run.id} in ${registry.path}\n`);
          }
        } finally {
          registry.close();
        }
      }
    });
}
