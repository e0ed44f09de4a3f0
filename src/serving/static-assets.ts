/**
 * The page and the files it downloads, served from an allowlist: each URL path is registered
 * as its own route naming one file (or in-memory text). There is no path-to-file mapping a
 * request could steer, so `..`, `%2f` and friends can only ever reach the 404 handler.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BLAZEFACE_MODELS } from '../inference/detector/blazeface-model.js';
import { detectorModelUrl, KEYPOINT_MODEL_URL } from './model-description.js';
import { WEB_ROOT } from './web-bundle.js';

export type StaticAsset = { readonly contentType: string } & ({ readonly file: string } | { readonly text: string });

const HTML = 'text/html; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const WASM = 'application/wasm';
const ONNX = 'application/octet-stream';

/** onnxruntime-web's dist folder, found through the package's own exports map. */
function ortDistDir(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

/** Every static URL path the server answers, and what it answers with. */
export function staticAssets(options: { appScript: string; keypointModelFile?: string }): Map<string, StaticAsset> {
  const ort = ortDistDir();
  const assets = new Map<string, StaticAsset>([
    ['/', { contentType: HTML, file: resolve(WEB_ROOT, 'index.html') }],
    ['/app.css', { contentType: CSS, file: resolve(WEB_ROOT, 'app.css') }],
    ['/app.js', { contentType: JS, text: options.appScript }],
    // The wasm-only build of onnxruntime-web and the runtime it loads (simd + threads; it runs
    // single-threaded where the page is not cross-origin isolated).
    ['/ort/ort.wasm.min.mjs', { contentType: JS, file: resolve(ort, 'ort.wasm.min.mjs') }],
    ['/ort/ort-wasm-simd-threaded.mjs', { contentType: JS, file: resolve(ort, 'ort-wasm-simd-threaded.mjs') }],
    ['/ort/ort-wasm-simd-threaded.wasm', { contentType: WASM, file: resolve(ort, 'ort-wasm-simd-threaded.wasm') }],
    [detectorModelUrl('back'), { contentType: ONNX, file: BLAZEFACE_MODELS.back.file }],
    [detectorModelUrl('front'), { contentType: ONNX, file: BLAZEFACE_MODELS.front.file }],
  ]);
  if (options.keypointModelFile !== undefined) assets.set(KEYPOINT_MODEL_URL, { contentType: ONNX, file: options.keypointModelFile });
  return assets;
}

/** Registers one GET (and HEAD) route per asset. */
export function registerStaticAssets(app: FastifyInstance, assets: ReadonlyMap<string, StaticAsset>): void {
  for (const [path, asset] of assets) {
    app.get(path, (request, reply) => sendAsset(request, reply, asset));
  }
}

async function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: StaticAsset): Promise<unknown> {
  reply.header('content-type', asset.contentType).header('cache-control', 'no-cache');
  if ('text' in asset) return reply.send(asset.text);
  const info = await stat(asset.file);
  // Revalidation keeps reloads cheap: the models are tens of megabytes.
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  reply.header('etag', etag).header('last-modified', info.mtime.toUTCString());
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  reply.header('content-length', info.size);
  return reply.send(createReadStream(asset.file));
}
