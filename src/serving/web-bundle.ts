/**
 * The page's script (web/src/main.ts and the pure inference modules it shares with the server:
 * BlazeFace decoding, NMS, box mapping, face cropping) bundled for the browser with esbuild.
 *
 * In a checkout (esbuild installed) the server bundles at start, so the page always matches
 * the sources; `npm run build` also writes dist/web/app.js, which an install without
 * devDependencies serves instead. Nobody runs a bundling step by hand.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Plugin } from 'esbuild';
import { PACKAGE_ROOT } from '../util/paths.js';

export const WEB_ROOT = resolve(PACKAGE_ROOT, 'web');
const ENTRY = resolve(WEB_ROOT, 'src', 'main.ts');
export const PREBUILT_BUNDLE = resolve(PACKAGE_ROOT, 'dist', 'web', 'app.js');

/** Where the page imports onnxruntime-web from (served from node_modules/onnxruntime-web/dist). */
export const ORT_BROWSER_MODULE = '/ort/ort.wasm.min.mjs';

/**
 * Module-level code in shared modules computes file paths (e.g. BLAZEFACE_MODELS[…].file) with
 * node:path/url/fs; in the browser those values are never used, so these stand-ins only need
 * to not throw. Anything else Node-only reaching the bundle is a build error naming it.
 */
const NODE_STANDINS: Readonly<Record<string, string>> = {
  'node:path': 'export const resolve = (...p) => p.join("/"); export const join = resolve; export const dirname = (p) => p.slice(0, p.lastIndexOf("/")); export default { resolve, join, dirname };',
  'node:url': 'export const fileURLToPath = (u) => String(u); export default { fileURLToPath };',
  'node:fs': 'export const existsSync = () => false; export default { existsSync };',
};

const browserOnly: Plugin = {
  name: 'fkd-browser-only',
  setup(build) {
    build.onResolve({ filter: /^onnxruntime-web$/ }, () => ({ path: ORT_BROWSER_MODULE, external: true }));
    build.onResolve({ filter: /^node:/ }, (args) => {
      if (NODE_STANDINS[args.path] !== undefined) return { path: args.path, namespace: 'node-standin' };
      return { errors: [{ text: `${args.importer} imports ${args.path}, which has no browser stand-in; the web bundle may import only modules free of Node APIs` }] };
    });
    build.onResolve({ filter: /^(sharp|onnxruntime-node|better-sqlite3)$/ }, (args) => ({
      errors: [{ text: `${args.importer} imports ${args.path}, a Node-only package; the web bundle may import only modules free of Node APIs` }],
    }));
    build.onLoad({ filter: /.*/, namespace: 'node-standin' }, (args) => ({ contents: NODE_STANDINS[args.path], loader: 'js' }));
  },
};

/** Bundles web/src/main.ts; undefined when esbuild is not installed. */
export async function bundleWebApp(): Promise<string | undefined> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
    plugins: [browserOnly],
  });
  return result.outputFiles[0].text;
}

/** The page's script: bundled now when possible, else the one `npm run build` wrote. */
export async function loadWebApp(): Promise<string> {
  const fresh = await bundleWebApp();
  if (fresh !== undefined) return fresh;
  if (existsSync(PREBUILT_BUNDLE)) return readFile(PREBUILT_BUNDLE, 'utf8');
  throw new Error(`the web page's script is missing: esbuild is not installed and ${PREBUILT_BUNDLE} does not exist (npm run build writes it)`);
}

/** Writes dist/web/app.js (run by `npm run build`). */
export async function writePrebuiltBundle(): Promise<string> {
  const code = await bundleWebApp();
  if (code === undefined) throw new Error('esbuild is not installed: cannot bundle the web page');
  await mkdir(dirname(PREBUILT_BUNDLE), { recursive: true });
  await writeFile(PREBUILT_BUNDLE, code);
  return PREBUILT_BUNDLE;
}
