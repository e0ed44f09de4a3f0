import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeKaggleTraining } from '../src/data/kaggle/write.js';
import { readModelFile } from '../src/models/file.js';
import { TorchModel } from '../src/models/torch-model.js';
import type { TrainerState } from '../src/training/trainer.js';
import { CLI, randomKeypointSet, runCli, tempDir } from './helpers.js';

const EPOCHS = 6;

/** A config exercising every piece of resumable state: Adam moments, plateau schedule, augmentation, dropout, batch norm. */
function config(): object {
  return {
    name: 'resume-test',
    model: {
      inputSize: 96,
      outputs: 30,
      layers: [
        { type: 'conv', filters: 16, kernel: 3, padding: 'same', bias: false },
        { type: 'batchnorm' },
        { type: 'relu' },
        { type: 'maxpool', size: 4 },
        { type: 'conv', filters: 16, kernel: 3, padding: 'same', activation: 'elu' },
        { type: 'globalAvgPool' },
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 30 },
      ],
    },
    data: { train: 'train.csv', dev: 'dev.csv' },
    epochs: EPOCHS,
    batchSize: 16,
    seed: 4,
    threads: 2,
    optimizer: { type: 'adam', learningRate: 0.003 },
    schedule: { type: 'plateau', patience: 0, factor: 0.5 },
    augment: { flip: true, rotation: 10, scale: 0.05, shift: 3, brightness: 0.1, contrast: 0.1 },
  };
}

async function writeFixture(dir: string): Promise<string> {
  await writeKaggleTraining(join(dir, 'train.csv'), randomKeypointSet(240, 1));
  await writeKaggleTraining(join(dir, 'dev.csv'), randomKeypointSet(20, 2));
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(config()));
  return path;
}

/** Starts `fkd train` and SIGKILLs it as soon as its run directory records `afterEpoch` finished epochs. */
function trainAndKill(args: string[], runDir: string, afterEpoch: number): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // metrics.json is written (atomically) after the epoch's checkpoint.
    const poll = setInterval(() => {
      readFile(join(runDir, 'metrics.json'), 'utf8')
        .then((text) => {
          if ((JSON.parse(text) as unknown[]).length >= afterEpoch) child.kill('SIGKILL');
        })
        .catch(() => undefined);
    }, 20);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearInterval(poll);
      resolve({ signal, stdout, stderr });
    });
  });
}

test('fkd train: a run killed with SIGKILL and resumed ends with the same weights as an uninterrupted run', async (t) => {
  const dir = await tempDir(t);
  const configPath = await writeFixture(dir);

  const whole = await runCli(['train', '--config', configPath, '--out', join(dir, 'whole')]);
  assert.equal(whole.code, 0, whole.stderr);
  assert.match(whole.stdout, new RegExp(`finished ${EPOCHS} epochs`));

  const killed = await trainAndKill(['train', '--config', configPath, '--out', join(dir, 'killed')], join(dir, 'killed'), 2);
  assert.equal(killed.signal, 'SIGKILL', `the run should have been killed mid-way: ${killed.stdout}${killed.stderr}`);
  const interrupted = (await readModelFile(join(dir, 'killed', 'last.fkd'))).training as TrainerState;
  assert.ok(interrupted.epochsDone >= 2 && interrupted.epochsDone < EPOCHS, `killed after epoch ${interrupted.epochsDone}`);

  const resumed = await runCli(['train', '--resume', join(dir, 'killed')]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming after epoch ${interrupted.epochsDone}`));

  const a = await readModelFile(join(dir, 'whole', 'last.fkd'));
  const b = await readModelFile(join(dir, 'killed', 'last.fkd'));
  assert.equal(a.tensors.length, b.tensors.length);
  a.tensors.forEach((tensor, i) => assert.ok(Buffer.from(tensor.data).equals(b.tensors[i].data), `tensor ${tensor.name} differs`));
  // (The optimiser blobs are not compared byte for byte: libtorch keys their entries by memory
  // address. Equal weights after the resumed epochs already require equal Adam moments.)
  const devRmse = (s: unknown) => (s as TrainerState).history.map((m) => [m.epoch, m.learningRate, m.trainRmse, m.devRmse]);
  assert.deepEqual(devRmse(b.training), devRmse(a.training));
  // The plateau schedule (patience 0) must have lowered the rate at some point for the test to cover it.
  assert.ok((a.training as TrainerState).history.some((m) => m.learningRate < 0.003));

  // The run directory: config, metrics as CSV and JSON, the learning curve, and a loadable best model.
  const csv = (await readFile(join(dir, 'whole', 'metrics.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'epoch,learningRate,trainRmse,devRmse,seconds,imagesPerSecond');
  assert.equal(csv.length, EPOCHS + 1);
  assert.equal(JSON.parse(await readFile(join(dir, 'whole', 'metrics.json'), 'utf8')).length, EPOCHS);
  const png = await readFile(join(dir, 'whole', 'learning-curve.png'));
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
  const best = await TorchModel.load(join(dir, 'whole', 'best.fkd'));
  assert.equal((await best.predict(randomKeypointSet(2, 5).images)).length, 60);

  // A finished run resumed is a no-op that says so; a new run into the same folder is refused.
  const again = await runCli(['train', '--config', configPath, '--out', join(dir, 'whole')]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds a run; continue it with --resume/);
});

test('fkd train: bad configs and bad checkpoints fail with one clear line and exit code 2', async (t) => {
  const dir = await tempDir(t);
  const configPath = await writeFixture(dir);
  const cases: [object | string, RegExp][] = [
    [{ ...config(), epocs: 3 }, /config\.json, field "epocs": unknown setting/],
    [{ ...config(), batchSize: 0 }, /field "batchSize": must be an integer ≥ 1, got 0/],
    [{ ...config(), optimizer: { type: 'rmsprop' } }, /field "optimizer\.type": must be one of adam, adamw, sgd/],
    [{ ...config(), model: 'resnet9000' }, /field "model": "resnet9000" is neither a shipped spec/],
    [{ ...config(), model: { inputSize: 96, outputs: 30, layers: [{ type: 'warp' }] } }, /field "model": layers\[0\]: unknown layer type "warp"/],
    [{ ...config(), data: { train: 'nowhere.csv' } }, /nowhere\.csv/],
    ['{ "name": ', /config\.json: not valid JSON/],
  ];
  for (const [content, message] of cases) {
    await writeFile(join(dir, 'bad.json'), typeof content === 'string' ? content.replace('config.json', '') : JSON.stringify(content));
    const result = await runCli(['train', '--config', join(dir, 'bad.json'), '--out', join(dir, 'bad-run')]);
    assert.equal(result.code, 2, `${JSON.stringify(content)}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(message.source.replace('config\\.json', 'bad\\.json')));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }

  const neither = await runCli(['train']);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /give either --config FILE/);

  // A checkpoint damaged after the run: resume names the file and refuses.
  const run = join(dir, 'run');
  const ok = await runCli(['train', '--config', configPath, '--out', run]);
  assert.equal(ok.code, 0, ok.stderr);
  const checkpoint = join(run, 'last.fkd');
  const bytes = await readFile(checkpoint);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  await writeFile(checkpoint, bytes);
  const resumed = await runCli(['train', '--resume', run]);
  assert.equal(resumed.code, 2);
  assert.match(resumed.stderr, /last\.fkd: checksum mismatch/);
});
