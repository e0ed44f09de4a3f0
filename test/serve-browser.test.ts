/**
 * The web page in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core;
 * no browser is ever downloaded): upload a face photo, check the keypoints drawn on the overlay
 * against POST /v1/keypoints, hover a point for its name, run the same photo through the
 * in-browser pipeline (onnxruntime-web) and compare, then feed the photo in as a fake webcam.
 * Screenshots go to test-artifacts/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { KeypointPipeline } from '../src/inference/pipeline.js';
import { exportOnnx } from '../src/inference/onnx/export.js';
import { validateModelSpec } from '../src/models/spec.js';
import { createServer } from '../src/serving/index.js';
import type { ApiFace, KeypointsResponse } from '../src/serving/api-types.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { randomTorchModel } from './onnx-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const PHOTO = resolve(PACKAGE_ROOT, 'samples', 'astronaut.png');
const TRAINED_MODEL = resolve(PACKAGE_ROOT, 'models', 'default.onnx');
const ARTIFACTS = resolve(PACKAGE_ROOT, 'test-artifacts');

const missing = !existsSync(CHROMIUM) ? `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)` : !existsSync(PHOTO) ? `sample photo ${PHOTO} is missing` : undefined;

declare global {
  interface Window {
    fkd: { last?: { engine: string; result: KeypointsResponse }; frames: number };
  }
}

/**
 * Browser and server resize differently before BlazeFace (canvas vs libvips) and the webcam
 * path adds YUV and JPEG rounding, so their keypoints agree closely but not exactly: within
 * this fraction of the face's crop side (2 % of a 120-pixel face is 2.4 pixels).
 */
const BROWSER_TOLERANCE = 0.02;
const WEBCAM_TOLERANCE = 0.04;

/** A 3-layer random network, for when no trained model is around: the page's arithmetic is checked all the same. */
async function tinyModel(dir: string): Promise<string> {
  const spec = validateModelSpec({ name: 'browser-test', inputSize: 96, outputs: 30, layers: [{ type: 'conv', filters: 4, kernel: 5, stride: 4, activation: 'relu' }, { type: 'flatten' }, { type: 'dense', units: 30 }] });
  const torch = randomTorchModel(spec, 9);
  const file = join(dir, 'browser-test.onnx');
  await writeFile(file, exportOnnx(torch.spec, torch.native.getState(), torch.metadata));
  return file;
}

/** The photo fitted into 640x480 (the page asks cameras for that size; Chromium would crop anything else). */
function webcamPicture(photo: string): Promise<Buffer> {
  return sharp(photo).removeAlpha().resize(480, 480).extend({ left: 80, right: 80, background: '#000' }).png().toBuffer();
}

/** A picture as a one-frame YUV4MPEG2 file, which Chromium's fake capture device plays as a webcam (in a loop). */
async function pictureAsY4m(picture: Buffer, out: string): Promise<void> {
  const { data, info } = await sharp(picture).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const y = Buffer.alloc(width * height);
  const u = Buffer.alloc((width / 2) * (height / 2));
  const v = Buffer.alloc(u.length);
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  for (let p = 0; p < width * height; p++) y[p] = clamp(0.299 * data[3 * p] + 0.587 * data[3 * p + 1] + 0.114 * data[3 * p + 2]);
  for (let row = 0; row < height / 2; row++) {
    for (let col = 0; col < width / 2; col++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        const p = (2 * row + dy) * width + 2 * col + dx;
        r += data[3 * p] / 4;
        g += data[3 * p + 1] / 4;
        b += data[3 * p + 2] / 4;
      }
      u[row * (width / 2) + col] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
      v[row * (width / 2) + col] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
    }
  }
  await writeFile(out, Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\nFRAME\n`), y, u, v]));
}

function assertFacesClose(actual: readonly ApiFace[], expected: readonly ApiFace[], tolerance: number, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: number of faces`);
  let worst = 0;
  expected.forEach((face, f) => {
    const limit = tolerance * face.cropBox.s;
    face.keypoints.forEach((p, i) => {
      const q = actual[f].keypoints[i];
      assert.equal(q.name, p.name);
      const d = Math.hypot(q.x - p.x, q.y - p.y);
      worst = Math.max(worst, d);
      assert.ok(d <= limit, `${what}: ${p.name} is ${d.toFixed(2)} px from the server's (limit ${limit.toFixed(2)})`);
    });
  });
  return worst;
}

let dir: string;
let pipeline: KeypointPipeline;
let app: FastifyInstance;
let base: string;
let context: BrowserContext;
let page: Page;
let webcamPng: Buffer;
const foreignRequests: string[] = [];
const pageErrors: string[] = [];

before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'fkd-serve-browser-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const model = existsSync(TRAINED_MODEL) ? TRAINED_MODEL : await tinyModel(dir);
  pipeline = await KeypointPipeline.load({ model, threads: 2 });
  app = await createServer({ pipeline });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  base = `http://127.0.0.1:${address.port}`;

  const webcamFile = join(dir, 'webcam.y4m');
  webcamPng = await webcamPicture(PHOTO);
  await pictureAsY4m(webcamPng, webcamFile);
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${webcamFile}`,
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (request) => {
    if (!request.url().startsWith(`${base}/`) && !request.url().startsWith('data:') && !request.url().startsWith('blob:')) foreignRequests.push(request.url());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 30_000 });
}, { timeout: 120_000 });

after(async () => {
  await context?.close();
  await app?.close();
  await pipeline?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

async function waitForResult(): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', null, { timeout: 90_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  assert.equal(state, 'done', `page says: ${await page.textContent('#status')}`);
}

/** The API's answer for the photo (or another picture), asked directly. */
async function apiAnswer(picture?: Buffer): Promise<KeypointsResponse> {
  const response = await fetch(`${base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(picture ?? (await readFile(PHOTO))) });
  assert.equal(response.status, 200);
  return (await response.json()) as KeypointsResponse;
}

test('server inference: the drawn keypoints are the API answer, at those pixels, named on hover', { skip: missing, timeout: 120_000 }, async () => {
  const expected = await apiAnswer();
  assert.ok(expected.faces.length >= 1, 'the sample photo has a face');
  await page.setInputFiles('#file-input', PHOTO);
  await waitForResult();
  assert.equal(await page.evaluate(() => document.body.dataset.engine), 'server');

  const drawn = JSON.parse((await page.getAttribute('#overlay', 'data-points')) ?? '[]') as { face: number; name: string; x: number; y: number }[];
  const fromApi = expected.faces.flatMap((face, f) => face.keypoints.map((p) => ({ face: f, name: p.name, x: p.x, y: p.y })));
  assert.deepEqual(drawn, fromApi);
  assert.deepEqual((await page.evaluate(() => window.fkd.last?.result.faces)), expected.faces);

  // The overlay really has paint at each keypoint (those inside the picture: an untrained model
  // may put some outside), and none far from every face.
  const inside = fromApi.filter((p) => p.x >= 0 && p.y >= 0 && p.x < expected.width - 0.5 && p.y < expected.height - 0.5);
  assert.ok(inside.length > 0, 'some keypoints lie inside the picture');
  const alphas = await page.evaluate((points) => {
    const canvas = document.getElementById('overlay') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    return points.map((p) => ctx.getImageData(Math.round(p.x), Math.round(p.y), 1, 1).data[3]);
  }, [...inside, { x: 2, y: 2 }, { x: expected.width - 3, y: expected.height - 3 }]);
  assert.ok(alphas.slice(0, inside.length).every((a) => a > 200), `opaque marks at the keypoints: ${alphas}`);
  assert.deepEqual(alphas.slice(inside.length), [0, 0], 'nothing drawn in the corners');

  // Hovering a point shows its name (the point farthest from the others, so the nearest to the pointer is itself).
  const isolation = (p: { x: number; y: number }) => Math.min(...inside.filter((q) => q !== p).map((q) => Math.hypot(q.x - p.x, q.y - p.y)), Infinity);
  const target = inside.reduce((best, p) => (isolation(p) > isolation(best) ? p : best));
  const box = (await page.locator('#overlay').boundingBox())!;
  await page.mouse.move(box.x + (target.x * box.width) / expected.width, box.y + (target.y * box.height) / expected.height);
  await page.waitForSelector('#tooltip:not([hidden])');
  assert.equal(await page.textContent('#tooltip'), expected.faces.length > 1 ? `${target.name} (face ${target.face + 1})` : target.name);

  await page.screenshot({ path: join(ARTIFACTS, 'serve-browser-server.png') });
});

test('in-browser inference (onnxruntime-web, same ONNX models) agrees with the server', { skip: missing, timeout: 120_000 }, async () => {
  const expected = await apiAnswer();
  await page.check('input[name="engine"][value="browser"]');
  await page.waitForFunction(() => document.body.dataset.state === 'ready' || document.body.dataset.state === 'error', null, { timeout: 90_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready', `page says: ${await page.textContent('#status')}`);
  await page.setInputFiles('#file-input', PHOTO);
  await waitForResult();
  const last = await page.evaluate(() => window.fkd.last!);
  assert.equal(last.engine, 'browser');
  assert.deepEqual([last.result.width, last.result.height], [expected.width, expected.height]);
  const worst = assertFacesClose(last.result.faces, expected.faces, BROWSER_TOLERANCE, 'in-browser');
  console.log(`in-browser vs server: largest keypoint difference ${worst.toFixed(3)} px`);
  const drawn = JSON.parse((await page.getAttribute('#overlay', 'data-points')) ?? '[]') as { x: number }[];
  assert.equal(drawn.length, last.result.faces.flatMap((f) => f.keypoints).length);
  await page.screenshot({ path: join(ARTIFACTS, 'serve-browser-inbrowser.png') });
});

test('webcam (Chromium playing the photo as a fake camera): keypoints follow frame after frame, on either engine', { skip: missing, timeout: 120_000 }, async () => {
  const expected = await apiAnswer(webcamPng);
  assert.ok(expected.faces.length >= 1);
  for (const engine of ['server', 'browser'] as const) {
    await page.check(`input[name="engine"][value="${engine}"]`);
    await page.waitForFunction(() => document.body.dataset.state !== 'busy', null, { timeout: 90_000 });
    const before = await page.evaluate(() => window.fkd.frames);
    await page.click('#webcam-button');
    await page.waitForFunction((n) => window.fkd.frames >= n + 3, before, { timeout: 60_000 });
    const last = await page.evaluate(() => window.fkd.last!);
    await page.click('#webcam-button');
    assert.equal(last.engine, engine);
    assert.deepEqual([last.result.width, last.result.height], [expected.width, expected.height]);
    assertFacesClose(last.result.faces, expected.faces, WEBCAM_TOLERANCE, `webcam via ${engine}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'serve-browser-webcam.png') });
});

test('the page loaded nothing from outside this server and threw no error', { skip: missing }, () => {
  assert.deepEqual(foreignRequests, []);
  assert.deepEqual(pageErrors, []);
});
