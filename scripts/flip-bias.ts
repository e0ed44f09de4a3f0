// Mean signed keypoint error (prediction − label) in x and y, with and without flip TTA:
//   node --import tsx scripts/flip-bias.ts MODEL.onnx [--data data/ytf15] [--splits training,dev,test]
// A model's mirrored predictions, mapped back with the protocol's u → 95 − u, should be as
// unbiased as its plain ones. A large x-only shift under flip TTA means the labels and the
// image content disagree about where the mirror axis is (see README, "flip").
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readKaggleTraining } from '../src/data/kaggle/read.js';
import { KeypointModel } from '../src/inference/keypoint-model.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { data: { type: 'string', default: 'data/ytf15' }, splits: { type: 'string', default: 'training,dev,test' } },
});
const [modelFile] = positionals;
if (!modelFile) throw new Error('usage: flip-bias.ts MODEL.onnx [--data DIR] [--splits training,dev,test]');

function meanSignedError(predictions: Float64Array, labels: Float64Array): { x: number; y: number } {
  let x = 0;
  let y = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i += 2) {
    if (Number.isNaN(labels[i]) || Number.isNaN(labels[i + 1])) continue;
    x += predictions[i] - labels[i];
    y += predictions[i + 1] - labels[i + 1];
    n++;
  }
  return { x: x / n, y: y / n };
}

const model = await KeypointModel.load(modelFile);
try {
  console.log('split      mean x error  mean y error  (plain | flip TTA | mirrored half alone)');
  for (const split of values.splits!.split(',')) {
    const set = await readKaggleTraining(join(values.data!, `${split}.csv`));
    const plain = meanSignedError(await model.predict(set.images), set.keypoints);
    const tta = meanSignedError(await model.predict(set.images, { flipTta: true }), set.keypoints);
    // TTA is the mean of the plain and the mirrored predictions, so the mirrored half's bias is 2·tta − plain.
    const mirrored = { x: 2 * tta.x - plain.x, y: 2 * tta.y - plain.y };
    const f = (v: number): string => (v >= 0 ? ' ' : '') + v.toFixed(3);
    console.log(`${split.padEnd(9)}  x ${f(plain.x)} | ${f(tta.x)} | ${f(mirrored.x)}   y ${f(plain.y)} | ${f(tta.y)} | ${f(mirrored.y)}`);
  }
} finally {
  await model.close();
}
