// Write the model card of a shipped ONNX model from measurements made here and now:
//   node --import tsx scripts/model-card.ts RUN_DIR MODEL.onnx [--data data/ytf15] [--name NAME]
// The ONNX model is scored on the YTF-15 dev and test splits (the protocol of
// shared/data/README.md); the card records the figures, the training run's config and
// provenance, and the commands that reproduce the model.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readKaggleTraining } from '../src/data/kaggle/read.js';
import { evaluateKeypoints } from '../src/evaluation/metrics.js';
import { KeypointModel } from '../src/inference/keypoint-model.js';
import { schemaByName } from '../src/schema/index.js';
import { sha256File, gitCommit } from '../src/registry/provenance.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { data: { type: 'string', default: 'data/ytf15' }, name: { type: 'string' }, command: { type: 'string' } } });
const [runDir, onnxFile] = positionals;
if (!runDir || !onnxFile) throw new Error('usage: model-card.ts RUN_DIR MODEL.onnx [--data DIR] [--name NAME] [--command "how the run was trained"]');

const config = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8'));
const history: { epoch: number; devRmse: number }[] = JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8'));
const best = history.reduce((a, b) => (b.devRmse < a.devRmse ? b : a));
const model = await KeypointModel.load(onnxFile);
const schema = schemaByName(model.info.schema);
const coords = schema.points.length * 2;
// What each schema's model is for, and the data it was trained on (the 68-point task uses every label).
const TASKS: Record<string, { task: string; data: string }> = {
  kaggle15: {
    task: 'Kaggle-15 facial keypoints (eye centres and corners, brows, nose tip, mouth) on 96x96 grey face crops',
    data: 'YTF-15 train split (shared/data/ytf68 + split.json), built by `fkd data build-ytf15`; kaggle_sparse rows carry only 4 keypoints (Kaggle-like task)',
  },
  ibug68: {
    task: 'iBUG 300-W 68-point facial landmarks (jaw, brows, nose, eyes, lips) on 96x96 grey face crops',
    data: 'YTF train split (shared/data/ytf68 + split.json) with all 68 labels, built by `fkd data build-ytf15 --points 68`',
  },
};
const about = TASKS[schema.name] ?? { task: `${schema.name} keypoints on 96x96 grey face crops`, data: config.data?.train };

async function score(split: string, flipTta: boolean) {
  const set = await readKaggleTraining(join(values.data!, `${split}.csv`));
  const predictions = await model.predict(set.images, { flipTta });
  const e = evaluateKeypoints(predictions, set.keypoints, schema);
  return {
    faces: e.faces,
    rmse: Number(e.rmse.toFixed(4)),
    mse: Number(e.mse.toFixed(4)),
    nme: Number(e.nme.toFixed(5)),
    failureRate: Number(e.failureRate.toFixed(4)),
    perKeypointRmse: Object.fromEntries(e.perKeypoint.map((k) => [k.name, Number(k.rmse.toFixed(3))])),
  };
}

const card = {
  name: values.name ?? basename(onnxFile, '.onnx'),
  version: `${config.name}@epoch${best.epoch}`,
  task: about.task,
  schema: schema.name,
  architecture: typeof config.model === 'string' ? config.model : (config.model?.name ?? 'custom'),
  input: 'float32 [N,1,96,96], grey pixel / 255, face cropped by the YTF-15 protocol box (the photo pipeline maps detector boxes to it)',
  output: `float32 [N,${coords}]: x0,y0,…,x${coords / 2 - 1},y${coords / 2 - 1} as (u − 47.5) / 48, u in crop pixels (pixel centres at integers)`,
  training: {
    run: config.name,
    data: about.data,
    config,
    epochsTrained: history.length,
    bestEpoch: best.epoch,
    chosenOn: 'dev split (best dev RMSE epoch)',
  },
  evaluation: {
    protocol: 'YTF-15 (shared/data/README.md): face box, 96x96 crop, RMSE over all labelled coordinates in crop pixels; NME = mean point error / outer-eye-corner distance',
    dev: await score('dev', false),
    test: await score('test', false),
    testWithFlipTta: await score('test', true),
    measuredWith: `node --import tsx scripts/model-card.ts ${relative(PACKAGE_ROOT, resolve(runDir))} ${relative(PACKAGE_ROOT, resolve(onnxFile))}${values.data === 'data/ytf15' ? '' : ` --data ${values.data}`}`,
    measuredAt: new Date().toISOString().slice(0, 10),
  },
  reproduce: [
    schema.name === 'kaggle15'
      ? 'bash scripts/setup.sh   # or: npm ci && npx fkd data build-ytf15 --out data/ytf15'
      : `npm ci && npx fkd data build-ytf15 --points ${schema.points.length} --out ${values.data}`,
    values.command ?? `npx fkd train --config <the config above> --out ${relative(PACKAGE_ROOT, resolve(runDir))}`,
    `npx fkd export ${relative(PACKAGE_ROOT, resolve(runDir))} --onnx ${relative(PACKAGE_ROOT, resolve(onnxFile))} --verify`,
  ],
  file: { bytes: (await stat(onnxFile)).size, sha256: await sha256File(onnxFile) },
  code: gitCommit(),
  limitations: [
    'Trained on YouTube Faces frames (low resolution, mostly frontal, varied lighting): expect larger errors on strong profiles and tilted heads.',
    'Keypoints are only as good as the face box: the photo pipeline crops by a box fitted from the BlazeFace detector (docs/face-detector.md).',
  ],
};
await writeFileAtomic(join(dirname(onnxFile), `${basename(onnxFile, '.onnx')}.card.json`), JSON.stringify(card, null, 2) + '\n');
console.log(JSON.stringify(card.evaluation, null, 2));
