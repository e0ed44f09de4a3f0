import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { Registry } from '../src/registry/registry.js';
import { sha256File } from '../src/registry/provenance.js';
import { runCli, tempDir } from './helpers.js';

function seedRuns(path: string): void {
  const registry = Registry.open(path);
  registry.startRun({
    id: 'r1-baseline',
    name: 'baseline',
    kind: 'train',
    model: 'baseline',
    seed: 1,
    gitCommit: 'abc123',
    config: { epochs: 3, lr: 0.001 },
    data: [{ role: 'train', path: '/data/training.csv', sha256: 'f'.repeat(64), rows: 3258 }],
  });
  [12, 6, 4.5].forEach((dev, i) => registry.logEpoch('r1-baseline', { epoch: i + 1, learningRate: 0.001, trainRmse: dev + 1, devRmse: dev, seconds: 10, imagesPerSecond: 300 }));
  registry.setResults('r1-baseline', 'dev', { rmse: 4.5, mse: 20.25 });
  registry.setResults('r1-baseline', 'test', { rmse: 4.75, mse: 22.5625, nme: Number.NaN });
  registry.addArtifact('r1-baseline', 'best', '/runs/baseline/best.fkd');
  registry.finishRun('r1-baseline', 'finished');
  registry.startRun({ id: 'r2-selu', name: 'selu', kind: 'train', model: 'model15', config: {} });
  [8, 3.1].forEach((dev, i) => registry.logEpoch('r2-selu', { epoch: i + 1, learningRate: 0.001, trainRmse: dev, devRmse: dev, seconds: 10, imagesPerSecond: 300 }));
  registry.close();
}

test('registry: a run round-trips with data checksums, epochs, results (NaN kept), artifacts; resume marks it running again', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'registry.sqlite');
  seedRuns(path);
  const registry = Registry.open(path);
  t.after(() => registry.close());
  const run = registry.getRun('r1-baseline')!;
  assert.equal(run.status, 'finished');
  assert.deepEqual(run.config, { epochs: 3, lr: 0.001 });
  assert.deepEqual(run.data, [{ role: 'train', path: '/data/training.csv', sha256: 'f'.repeat(64), rows: 3258 }]);
  assert.deepEqual(run.epochs.map((e) => e.devRmse), [12, 6, 4.5]);
  assert.equal(run.results.test.rmse, 4.75);
  assert.ok(Number.isNaN(run.results.test.nme));
  assert.equal(run.artifacts[0].path, '/runs/baseline/best.fkd');
  assert.deepEqual(registry.listRuns().map((r) => r.id).sort(), ['r1-baseline', 'r2-selu']);
  assert.equal(registry.findRun('r2')!.id, 'r2-selu');
  assert.equal(registry.findRun('selu')!.id, 'r2-selu');
  assert.throws(() => registry.findRun('r'), /matches 2 runs/);
  registry.startRun({ id: 'r1-baseline', name: 'baseline', kind: 'train', config: {} });
  assert.equal(registry.getRun('r1-baseline')!.status, 'running');
  assert.deepEqual(registry.getRun('r1-baseline')!.config, { epochs: 3, lr: 0.001 }, 'resuming keeps the recorded config');
});

test('sha256File matches a digest computed in memory', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'x.bin');
  const bytes = Buffer.alloc(3_000_000, 7);
  await writeFile(file, bytes);
  assert.equal(await sha256File(file), createHash('sha256').update(bytes).digest('hex'));
});

test('fkd runs ls / show / compare read the SQLite file; compare draws the curves', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'registry.sqlite');
  seedRuns(path);
  const ls = await runCli(['runs', '--registry', path, 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /r1-baseline\s+baseline\s+train\s+baseline\s+finished\s+3\s+4\.500\s+4\.750/);
  assert.match(ls.stdout, /r2-selu\s+selu\s+train\s+model15\s+running\s+2\s+3\.100\s+-/);

  const show = await runCli(['runs', '--registry', path, 'show', 'baseline']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /train\s+\/data\/training\.csv\s+sha256 ffffffffffffffff…\s+3258 rows/);
  assert.match(show.stdout, /test\s+mse 22\.5625, nme -, rmse 4\.7500/);

  const plot = join(dir, 'curves.png');
  const compare = await runCli(['runs', '--registry', path, 'compare', 'r1', 'r2', '--plot', plot]);
  assert.equal(compare.code, 0, compare.stderr);
  const lines = compare.stdout.split('\n');
  assert.match(lines[0], /^run\s+name\s+model\s+epochs\s+best dev RMSE\s+dev MSE\s+dev RMSE\s+test MSE\s+test RMSE\s+status$/);
  assert.match(lines[2], /^r1-baseline\s+baseline\s+baseline\s+3\s+4\.500\s+20\.250\s+4\.500\s+22\.563\s+4\.750\s+finished$/);
  const meta = await sharp(plot).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! > 400);

  const missing = await runCli(['runs', '--registry', path, 'show', 'nope']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no run "nope"/);

  // A snapshot is one self-contained file that reading commands leave byte-identical.
  const snapshotFile = join(dir, 'kept', 'registry.sqlite');
  const snapshot = await runCli(['runs', '--registry', path, 'snapshot', snapshotFile]);
  assert.equal(snapshot.code, 0, snapshot.stderr);
  assert.match(snapshot.stdout, /2 runs copied/);
  const before = await readFile(snapshotFile);
  const fromSnapshot = await runCli(['runs', '--registry', snapshotFile, 'compare', 'r1', 'r2', '--plot', join(dir, 'c2.png')]);
  assert.equal(fromSnapshot.code, 0, fromSnapshot.stderr);
  assert.equal(fromSnapshot.stdout.split('\n')[2], lines[2]);
  assert.ok(before.equals(await readFile(snapshotFile)), 'reading left the snapshot unchanged');
  assert.deepEqual((await readdir(join(dir, 'kept'))).sort(), ['registry.sqlite'], 'no -wal/-shm files beside it');

  const none = await runCli(['runs', '--registry', join(dir, 'absent.sqlite'), 'ls']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no registry at .*absent\.sqlite/);
  const noSource = await runCli(['runs', '--registry', join(dir, 'absent.sqlite'), 'snapshot', join(dir, 'copy.sqlite')]);
  assert.equal(noSource.code, 2);
  assert.match(noSource.stderr, /no registry at .*absent\.sqlite/);
  assert.ok(!existsSync(join(dir, 'copy.sqlite')), 'nothing written');
});

test('fkd runs add records a run directory made without the registry, with its data checksum; twice = same run', async (t) => {
  const dir = await tempDir(t);
  const runDir = join(dir, 'run-a');
  const train = join(dir, 'training.csv');
  await writeFile(train, 'x\n');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(runDir);
  await writeFile(join(runDir, 'config.json'), JSON.stringify({ name: 'old-run', model: 'model15', seed: 7, data: { train } }));
  await writeFile(join(runDir, 'metrics.json'), JSON.stringify([{ epoch: 1, learningRate: 0.001, trainRmse: 5, devRmse: 4, seconds: 1, imagesPerSecond: 9 }, { epoch: 2, learningRate: 0.001, trainRmse: 3, devRmse: 2.5, seconds: 1, imagesPerSecond: 9 }]));
  const path = join(dir, 'registry.sqlite');
  const first = await runCli(['runs', '--registry', path, 'add', runDir]);
  assert.equal(first.code, 0, first.stderr);
  const again = await runCli(['runs', '--registry', path, 'add', runDir]);
  assert.equal(again.code, 0, again.stderr);
  const registry = Registry.open(path);
  t.after(() => registry.close());
  const runs = registry.listRuns();
  assert.equal(runs.length, 1);
  assert.equal(runs[0].model, 'model15');
  assert.equal(runs[0].seed, 7);
  assert.equal(runs[0].results.dev.rmse, 2.5);
  assert.equal(runs[0].data[0].sha256, createHash('sha256').update('x\n').digest('hex'));
  const bad = await runCli(['runs', '--registry', path, 'add', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /config\.json: not found/);
});

test('fkd train records its run: config, data checksums, every epoch, the end state and artifacts', async (t) => {
  const dir = await tempDir(t);
  const { writeKaggleTraining } = await import('../src/data/kaggle/write.js');
  const { randomKeypointSet } = await import('./helpers.js');
  await writeKaggleTraining(join(dir, 'train.csv'), randomKeypointSet(40, 1));
  await writeKaggleTraining(join(dir, 'dev.csv'), randomKeypointSet(8, 2));
  const config = {
    name: 'tiny',
    model: { inputSize: 96, outputs: 30, layers: [{ type: 'maxpool', size: 8 }, { type: 'flatten' }, { type: 'dense', units: 30 }] },
    data: { train: 'train.csv', dev: 'dev.csv' },
    epochs: 2,
    batchSize: 16,
    threads: 1,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const path = join(dir, 'registry.sqlite');
  const runDir = join(dir, 'run');
  const result = await runCli(['train', '--config', join(dir, 'config.json'), '--out', runDir, '--registry', path]);
  assert.equal(result.code, 0, result.stderr);
  const registry = Registry.open(path);
  t.after(() => registry.close());
  const [run] = registry.listRuns();
  assert.equal(run.name, 'tiny');
  assert.equal(run.status, 'finished');
  assert.equal(run.runDir, runDir);
  assert.deepEqual(run.epochs.map((e) => e.epoch), [1, 2]);
  assert.deepEqual(run.data.map((d) => [d.role, d.rows]), [['dev', 8], ['train', 40]]);
  assert.equal(run.data.find((d) => d.role === 'train')!.sha256, await sha256File(join(dir, 'train.csv')));
  assert.equal(run.results.dev.rmse, Math.min(...run.epochs.map((e) => e.devRmse)));
  assert.deepEqual(run.artifacts.map((a) => a.kind), ['best', 'config', 'curve', 'last', 'metrics']);
  assert.match(run.gitCommit ?? '', /^[0-9a-f]{40}(-dirty)?$/);
});
