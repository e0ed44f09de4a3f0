/**
 * fkd serve's HTTP API against real servers on 127.0.0.1: the happy paths with the real photo
 * pipeline (a small random keypoint model, so no trained model is needed), and every kind of
 * bad input and load with a fake pipeline and tight limits. After each kind, the server must
 * still answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { decodeImage } from '../src/data/image.js';
import { KAGGLE15 } from '../src/schema/index.js';
import { exportOnnx } from '../src/inference/onnx/export.js';
import { KeypointPipeline } from '../src/inference/pipeline.js';
import { validateModelSpec } from '../src/models/spec.js';
import { createServer, type InferencePipeline, type ServeLimits, type ServedPhotoResult } from '../src/serving/index.js';
import type { KeypointsResponse, ModelsResponse } from '../src/serving/api-types.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { CLI, tempDir } from './helpers.js';
import { randomTorchModel } from './onnx-fixtures.js';

const ASTRONAUT = resolve(PACKAGE_ROOT, 'samples', 'astronaut.png');

/** A small keypoint network: its points are meaningless, but it runs through the whole pipeline quickly. */
const TINY_SPEC = validateModelSpec({
  name: 'serve-test',
  inputSize: 96,
  outputs: 30,
  layers: [
    { type: 'conv', filters: 4, kernel: 5, stride: 4, activation: 'relu' },
    { type: 'flatten' },
    { type: 'dense', units: 30 },
  ],
});

async function writeTinyModel(dir: string): Promise<string> {
  const torch = randomTorchModel(TINY_SPEC, 5);
  const file = join(dir, 'serve-test.onnx');
  await writeFile(file, exportOnnx(torch.spec, torch.native.getState(), torch.metadata));
  return file;
}

/** A photo with a face: the bundled sample, or a synthetic one while it is absent. */
async function facePhoto(): Promise<Buffer> {
  if (existsSync(ASTRONAUT)) return readFile(ASTRONAUT);
  return sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 170, b: 150 } } }).png().toBuffer();
}

/** Node's Buffers as fetch bodies (their ArrayBufferLike type does not satisfy BodyInit). */
function bytes(buffer: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buffer);
}

/** Decodes like the real pipeline (so bad images fail the same way) and answers one fixed face. */
class FakePipeline implements InferencePipeline {
  readonly model = { name: 'fake', version: 'test-1', schema: KAGGLE15.name, points: KAGGLE15.points, file: '/nonexistent/fake.onnx' };
  calls = 0;
  /** While set, detect() waits for it. */
  hold: Promise<void> | undefined;
  failWith: Error | undefined;

  async detect(input: Uint8Array, options: { maxPixels?: number } = {}): Promise<ServedPhotoResult> {
    this.calls++;
    if (this.hold) await this.hold;
    if (this.failWith) throw this.failWith;
    const image = await decodeImage(input, { maxPixels: options.maxPixels, applyExifOrientation: true });
    return {
      width: image.width,
      height: image.height,
      faces: [{ box: { x: 1, y: 2, width: 30, height: 40 }, score: 0.987654, cropBox: { cx: 16, cy: 22, s: 50.123 }, keypoints: this.model.points.map((name, i) => ({ name, x: i + 0.123456, y: 2 * i })) }],
      timings: { decodeMs: 1, detectMs: 2, keypointsMs: 3, totalMs: 6 },
    };
  }

  async close(): Promise<void> {}
}

interface Running {
  app: FastifyInstance;
  base: string;
  port: number;
}

async function listen(app: FastifyInstance): Promise<Running> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return { app, base: `http://127.0.0.1:${address.port}`, port: address.port };
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error?.code, 'string');
  assert.equal(typeof body.error?.message, 'string');
  assert.ok(body.error.message.length > 10, `a message that says something: "${body.error.message}"`);
  return body.error;
}

async function assertStillServing(base: string): Promise<void> {
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
}

/** A GET with the path exactly as given (fetch would normalise "..").*/
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Writes `head` (and then nothing) on a raw socket; resolves with what came back and when the socket closed. */
function stalledRequest(port: number, head: string): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolvePromise({ text, closedAfterMs: performance.now() - started }));
  });
}

function multipart(field: string, filename: string, type: string, bytes: Uint8Array): { body: Buffer; contentType: string } {
  const boundary = '----fkdtest' + Math.random().toString(16).slice(2);
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A PNG whose header claims width x height but whose pixels are missing: refused from the header or it would be a bomb. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer): number => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(typed));
    return Buffer.concat([length, typed, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

describe('with the real pipeline', () => {
  let dir: string;
  let pipeline: KeypointPipeline;
  let server: Running;
  let photo: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fkd-serve-api-'));
    pipeline = await KeypointPipeline.load({ model: await writeTinyModel(dir), threads: 2 });
    server = await listen(await createServer({ pipeline }));
    photo = await facePhoto();
  });
  after(async () => {
    await server?.app.close();
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('POST an image: faces with box, score and named keypoints in image pixels, the model, timings', async () => {
    const response = await fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes(photo) });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as KeypointsResponse;
    const direct = await pipeline.detect(photo);
    assert.deepEqual(answer.model, { name: pipeline.model.name, version: pipeline.model.version, schema: 'kaggle15' });
    assert.equal(answer.width, direct.width);
    assert.equal(answer.height, direct.height);
    assert.equal(answer.faces.length, direct.faces.length);
    if (existsSync(ASTRONAUT)) assert.equal(answer.faces.length, 1, 'the sample photo has one face');
    answer.faces.forEach((face, f) => {
      assert.deepEqual(face.keypoints.map((p) => p.name), KAGGLE15.points);
      face.keypoints.forEach((p, i) => {
        assert.ok(Math.abs(p.x - direct.faces[f].keypoints[i].x) <= 0.005 && Math.abs(p.y - direct.faces[f].keypoints[i].y) <= 0.005, `${p.name} as the pipeline computes it`);
      });
      assert.ok(Math.abs(face.box.x - direct.faces[f].box.x) <= 0.005 && Math.abs(face.score - direct.faces[f].score) <= 5e-5);
      assert.ok(Math.abs(face.cropBox.s - direct.faces[f].cropBox.s) <= 0.005);
    });
    for (const key of ['decodeMs', 'detectMs', 'keypointsMs', 'totalMs', 'queueMs', 'requestMs'] as const) assert.ok(answer.timings[key] >= 0, key);
    assert.ok(answer.timings.requestMs >= answer.timings.totalMs - 0.01);
  });

  test('the same image as a multipart file field, and as application/octet-stream, gives the same faces', async () => {
    const raw = (await (await fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes(photo) })).json()) as KeypointsResponse;
    const form = new FormData();
    form.append('image', new Blob([bytes(photo)], { type: 'image/png' }), 'photo.png');
    const viaForm = await fetch(`${server.base}/v1/keypoints`, { method: 'POST', body: form });
    assert.equal(viaForm.status, 200);
    assert.deepEqual(((await viaForm.json()) as KeypointsResponse).faces, raw.faces);
    const octets = await fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes(photo) });
    assert.equal(octets.status, 200);
    assert.deepEqual(((await octets.json()) as KeypointsResponse).faces, raw.faces);
  });

  test('a JPEG cut short is 422; a photo without a face is 200 with no faces', async () => {
    const jpeg = await sharp(photo).jpeg({ quality: 90 }).toBuffer();
    const cut = await fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(jpeg.subarray(0, Math.floor(jpeg.length / 2))) });
    assert.equal(cut.status, 422);
    assert.equal((await errorOf(cut)).code, 'undecodable_image');
    const blank = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#808080' } }).webp().toBuffer();
    const none = await fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/webp' }, body: bytes(blank) });
    assert.equal(none.status, 200);
    const answer = (await none.json()) as KeypointsResponse;
    assert.deepEqual([answer.width, answer.height, answer.faces], [200, 150, []]);
  });

  test('concurrent requests all succeed with the same answer', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes(photo) }).then(async (r) => ({ status: r.status, body: (await r.json()) as KeypointsResponse }))),
    );
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.deepEqual(a.body.faces, answers[0].body.faces);
    }
  });

  test('GET /v1/models describes the model (points, colours, input size, download) and the detector', async () => {
    const response = await fetch(`${server.base}/v1/models`);
    assert.equal(response.status, 200);
    const models = (await response.json()) as ModelsResponse;
    const [model] = models.models;
    assert.equal(model.name, 'serve-test');
    assert.equal(model.version, pipeline.model.version);
    assert.deepEqual(model.points, KAGGLE15.points);
    assert.deepEqual(model.colours, KAGGLE15.colours);
    assert.equal(model.inputSize, 96);
    assert.equal(model.normalization, 'unit-v1');
    assert.deepEqual(model.inference, { flipTta: false, minScore: 0 });
    const download = await fetch(`${server.base}${model.url}`);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), await readFile(pipeline.model.file));
    assert.deepEqual(models.detector.variants.map((v) => v.name), ['back', 'front']);
    for (const v of models.detector.variants) assert.equal((await fetch(`${server.base}${v.url}`)).status, 200);
  });

  test('GET /healthz and /openapi.json; the document lists every API route', async () => {
    const health = await fetch(`${server.base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(Object.keys((await health.json()) as object).sort(), ['model', 'queued', 'refused', 'running', 'status', 'uptimeS']);
    const doc = (await (await fetch(`${server.base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/healthz', '/openapi.json', '/v1/keypoints', '/v1/models']);
    assert.deepEqual(Object.keys(doc.paths['/v1/keypoints']), ['post']);
    // Every $ref points at a schema that exists.
    for (const [, name] of JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)) assert.ok(doc.components.schemas[name], `schema ${name}`);
  });

  test('the page and its scripts are served from this server', async () => {
    const page = await fetch(`${server.base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    assert.match(html, /src="\/app\.js"/);
    assert.doesNotMatch(html, /https?:\/\//, 'no asset from elsewhere');
    const app = await fetch(`${server.base}/app.js`);
    assert.equal(app.status, 200);
    assert.match(app.headers.get('content-type') ?? '', /javascript/);
    const script = await app.text();
    assert.match(script, /from "\/ort\/ort\.wasm\.min\.mjs"/);
    assert.doesNotMatch(script, /from "(sharp|onnxruntime-node)"/);
    const wasm = await fetch(`${server.base}/ort/ort-wasm-simd-threaded.wasm`, { method: 'HEAD' });
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  });
});

describe('bad input and load (fake pipeline, tight limits)', () => {
  const limits: Partial<ServeLimits> = { bodyBytes: 64 * 1024, maxPixels: 1_000_000, bodyTimeoutMs: 700, connectionTimeoutMs: 1500, maxConcurrent: 1, maxQueued: 1 };
  const fake = new FakePipeline();
  let server: Running;
  let small: Buffer;

  before(async () => {
    server = await listen(await createServer({ pipeline: fake, limits }));
    small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#a08070' } }).png().toBuffer();
  });
  after(() => server?.app.close());

  const post = (body: Uint8Array | string | FormData | undefined, type?: string): Promise<Response> =>
    fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body: body instanceof Uint8Array ? bytes(body) : body });

  test('a good small image passes the fake pipeline and is rounded to 0.01 px', async () => {
    const response = await post(small, 'image/png');
    assert.equal(response.status, 200);
    const answer = (await response.json()) as KeypointsResponse;
    assert.deepEqual([answer.width, answer.height], [64, 48]);
    assert.equal(answer.faces[0].keypoints[0].x, 0.12);
    assert.equal(answer.faces[0].score, 0.9877);
  });

  test('body over the size limit: 413, with or without a Content-Length, raw or multipart', async () => {
    const big = Buffer.alloc(100 * 1024, 7);
    const declared = await post(big, 'image/jpeg');
    assert.equal(declared.status, 413);
    assert.equal((await errorOf(declared)).code, 'body_too_large');
    // Chunked: the limit is enforced while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolvePromise, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/v1/keypoints', method: 'POST', headers: { 'content-type': 'image/png', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(10 * 1024, i));
      req.end();
    });
    assert.equal(chunked.status, 413);
    assert.equal(JSON.parse(chunked.body).error.code, 'body_too_large');
    const form = multipart('image', 'big.jpg', 'image/jpeg', big);
    const viaForm = await post(form.body, form.contentType);
    assert.equal(viaForm.status, 413);
    await assertStillServing(server.base);
  });

  test('unsupported media types are 415: JSON, text, no Content-Type, an SVG in disguise', async () => {
    for (const [body, type] of [
      ['{"image": "x"}', 'application/json'],
      ['hello', 'text/plain'],
      ['x=1', 'application/x-www-form-urlencoded'],
      [small, 'image/x-portable-anymap'],
    ] as const) {
      const response = await post(body, type);
      assert.equal(response.status, 415, type);
      assert.equal((await errorOf(response)).code, 'unsupported_media_type');
    }
    const untyped = await new Promise<number>((resolvePromise, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/v1/keypoints', method: 'POST', headers: { 'content-length': String(small.length) } }, (res) => {
        res.resume();
        resolvePromise(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(small);
    });
    assert.equal(untyped, 415);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>');
    const disguised = await post(svg, 'image/png');
    assert.equal(disguised.status, 415);
    assert.match((await errorOf(disguised)).message, /svg/);
    await assertStillServing(server.base);
  });

  test('not an image, or a damaged one: 422; an empty body or a form without a file: 400', async () => {
    const garbage = await post(Buffer.from('definitely not a picture, just some bytes'), 'image/jpeg');
    assert.equal(garbage.status, 422);
    assert.equal((await errorOf(garbage)).code, 'undecodable_image');
    const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    const cut = await post(jpeg.subarray(0, jpeg.length - 200), 'image/jpeg');
    assert.equal(cut.status, 422);
    const empty = await post(Buffer.alloc(0), 'image/png');
    assert.equal(empty.status, 400);
    assert.equal((await errorOf(empty)).code, 'empty_body');
    const fields = new FormData();
    fields.append('comment', 'no file here');
    const noFile = await post(fields);
    assert.equal(noFile.status, 400);
    assert.equal((await errorOf(noFile)).code, 'missing_file');
    const noBoundary = await post('--x\r\n', 'multipart/form-data');
    assert.equal(noBoundary.status, 400);
    const formGarbage = multipart('image', 'x.jpg', 'image/jpeg', Buffer.from('not an image either'));
    const badPart = await post(formGarbage.body, formGarbage.contentType);
    assert.equal(badPart.status, 422);
    await assertStillServing(server.base);
  });

  test('an image over the pixel limit is 413 from its header alone (a 20000x20000 PNG of a few hundred bytes)', async () => {
    const bomb = pngHeaderOnly(20_000, 20_000);
    assert.ok(bomb.length < 1000);
    const callsBefore = fake.calls;
    const response = await post(bomb, 'image/png');
    assert.equal(response.status, 413);
    const error = await errorOf(response);
    assert.equal(error.code, 'image_too_large');
    assert.match(error.message, /20000x20000 = 400000000 pixels.*1000000/);
    assert.equal(fake.calls, callsBefore, 'never handed to the pipeline');
    await assertStillServing(server.base);
  });

  test('wrong method: 405 with Allow; unknown path: 404; both as JSON', async () => {
    const get = await fetch(`${server.base}/v1/keypoints`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal((await errorOf(get)).code, 'method_not_allowed');
    for (const method of ['PUT', 'DELETE', 'PATCH']) assert.equal((await fetch(`${server.base}/v1/keypoints`, { method })).status, 405, method);
    const postHealth = await fetch(`${server.base}/healthz`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes(small) });
    assert.equal(postHealth.status, 405);
    assert.equal(postHealth.headers.get('allow'), 'GET, HEAD');
    const missing = await fetch(`${server.base}/v2/keypoints`);
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, 'not_found');
  });

  test('no path reaches a file outside the served ones (.., %2f, %2e, %5c, NUL)', async () => {
    const secret = await readFile(resolve(PACKAGE_ROOT, 'package.json'), 'utf8');
    const attempts = [
      '/../package.json',
      '/..%2fpackage.json',
      '/%2e%2e/package.json',
      '/%2e%2e%2fpackage.json',
      '/ort/..%2f..%2f..%2fpackage.json',
      '/ort/../../package.json',
      '/ort/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/assets/models/..%2f..%2f..%2f..%2fpackage.json',
      '/app.js/..%2f..%2fpackage.json',
      '/..%5c..%5cpackage.json',
      '/ort/ort.wasm.min.mjs%00.json',
      '//etc/passwd',
      '/%2fetc%2fpasswd',
      '/node_modules/onnxruntime-web/package.json',
      '/web/index.html',
      '/src/serving/server.ts',
    ];
    for (const path of attempts) {
      const { status, body } = await rawGet(server.port, path);
      assert.ok(status === 404 || status === 400, `${path}: ${status}`);
      assert.ok(!body.includes('"dependencies"') && !body.includes('root:'), `${path} leaked a file`);
      assert.equal(JSON.parse(body).error.code, status === 404 ? 'not_found' : 'bad_request', path);
    }
    assert.ok(secret.includes('"dependencies"'), 'the probe string is in the file the attempts aim at');
    const malformed = await rawGet(server.port, '/%');
    assert.equal(malformed.status, 400);
    await assertStillServing(server.base);
  });

  test('a client that trickles its body gets 408 and is disconnected; one that sends nothing is disconnected', async () => {
    const head = `POST /v1/keypoints HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n`;
    const slow = await stalledRequest(server.port, head + 'x'.repeat(100));
    assert.match(slow.text, /^HTTP\/1\.1 408/);
    assert.match(slow.text, /"code":"request_timeout"/);
    assert.ok(slow.closedAfterMs >= 600 && slow.closedAfterMs < 5000, `closed after ${slow.closedAfterMs} ms`);
    const idle = await stalledRequest(server.port, '');
    assert.equal(idle.text, '');
    assert.ok(idle.closedAfterMs >= 1000 && idle.closedAfterMs < 6000, `idle socket closed after ${idle.closedAfterMs} ms`);
    const halfHeaders = await stalledRequest(server.port, 'POST /v1/keypoints HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    assert.ok(halfHeaders.closedAfterMs < 6000, `half-sent headers closed after ${halfHeaders.closedAfterMs} ms`);
    await assertStillServing(server.base);
  });

  test('overload: beyond the running and queued images, 503 with Retry-After; the others finish', async () => {
    let release!: () => void;
    fake.hold = new Promise((r) => (release = r));
    try {
      const first = post(small, 'image/png');
      const second = post(small, 'image/png');
      // Wait until one runs and one waits.
      for (let i = 0; i < 100; i++) {
        const health = (await (await fetch(`${server.base}/healthz`)).json()) as { running: number; queued: number };
        if (health.running === 1 && health.queued === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const third = await post(small, 'image/png');
      assert.equal(third.status, 503);
      assert.equal(third.headers.get('retry-after'), '1');
      assert.equal((await errorOf(third)).code, 'overloaded');
      release();
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
    } finally {
      fake.hold = undefined;
      release();
    }
    const health = (await (await fetch(`${server.base}/healthz`)).json()) as { running: number; queued: number; refused: number };
    assert.deepEqual([health.running, health.queued, health.refused], [0, 0, 1]);
  });

  test('a pipeline failure is a 500 that reveals nothing internal, and the next request works', async () => {
    fake.failWith = new Error('onnxruntime exploded reading /secret/path/model.onnx');
    try {
      const response = await post(small, 'image/png');
      assert.equal(response.status, 500);
      const error = await errorOf(response);
      assert.equal(error.code, 'internal');
      assert.doesNotMatch(error.message, /secret|onnxruntime/);
    } finally {
      fake.failWith = undefined;
    }
    assert.equal((await post(small, 'image/png')).status, 200);
  });
});

test('in-flight requests finish when the server closes; new connections are refused meanwhile', async () => {
  const fake = new FakePipeline();
  const server = await listen(await createServer({ pipeline: fake }));
  const small = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#000' } }).png().toBuffer();
  let release!: () => void;
  fake.hold = new Promise((r) => (release = r));
  const inFlight = fetch(`${server.base}/v1/keypoints`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes(small) });
  while (fake.calls === 0) await new Promise((r) => setTimeout(r, 10));
  const closed = server.app.close();
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(fetch(`${server.base}/healthz`), 'no new connections while closing');
  release();
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.equal(((await response.json()) as KeypointsResponse).faces.length, 1);
  await closed;
});

test('fkd serve: SIGTERM lets the request in flight finish, then exits 0', async (t) => {
  const dir = await tempDir(t, 'fkd-serve-cli-');
  const model = await writeTinyModel(dir);
  const photo = await facePhoto();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--model', model, '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolvePromise, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
      if (m) resolvePromise(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`fkd serve exited early: ${stderr}`)));
  });
  assert.match(stdout, /model serve-test /);

  // Send half the body, signal, then the rest: the request is certainly in flight when SIGTERM lands.
  const answer = new Promise<{ status: number; body: string }>((resolvePromise, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/keypoints', method: 'POST', headers: { 'content-type': 'image/png', 'content-length': String(photo.length) } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(photo.subarray(0, photo.length >> 1));
    setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => req.end(photo.subarray(photo.length >> 1)), 300);
    }, 300);
  });
  const { status, body } = await answer;
  assert.equal(status, 200, body);
  assert.equal((JSON.parse(body) as KeypointsResponse).model.name, 'serve-test');
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /SIGTERM, finishing requests in flight\n[^]*stopped/);
});

test("the web page's TypeScript type-checks (web/tsconfig.json: DOM code and the server modules it bundles)", async () => {
  const tsc = resolve(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await new Promise<{ code: number | null; output: string }>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', resolve(PACKAGE_ROOT, 'web', 'tsconfig.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
  assert.equal(result.code, 0, result.output);
});
