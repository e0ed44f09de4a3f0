import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { DEFAULT_MODEL_FILE } from '../../inference/photo/model-info.js';
import { DEFAULT_LIMITS } from '../../serving/limits.js';
import { UsageError } from '../../util/usage-error.js';
import { parseIntOption, parseNumberOption } from '../options.js';

interface ServeOptions {
  port: string;
  host: string;
  model?: string;
  threads?: string;
  flipTta?: boolean;
  minScore: string;
  maxBodyMb: string;
  maxPixels: string;
  logLevel: string;
}

/** How long in-flight requests get to finish after SIGTERM/SIGINT before the server gives up on them. */
const SHUTDOWN_GRACE_MS = 30_000;

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('HTTP keypoint API (POST /v1/keypoints, GET /v1/models, /healthz, /openapi.json) and a web page with photo upload and webcam')
    .option('--port <n>', 'TCP port (0: any free one, printed at start)', '8080')
    .option('--host <address>', 'address to listen on; 0.0.0.0 exposes the server to your network', '127.0.0.1')
    .option('--model <file.onnx>', 'keypoint model (default: the bundled models/default.onnx)')
    .option('--threads <n>', 'onnxruntime threads (default: every core)')
    .option('--flip-tta', 'also predict each face mirrored and average (slower)')
    .option('--min-score <s>', 'drop faces the detector scores below this (0 to 1)', '0')
    .option('--max-body-mb <n>', 'largest upload in MiB', String(DEFAULT_LIMITS.bodyBytes / 2 ** 20))
    .option('--max-pixels <n>', 'largest image in pixels (width x height)', String(DEFAULT_LIMITS.maxPixels))
    .option('--log-level <level>', 'fastify log level: fatal, error, warn, info (every request), debug, silent', 'warn')
    .action(serve);
}

async function serve(options: ServeOptions): Promise<void> {
  const port = parseIntOption('--port', options.port, 0, 65535);
  const threads = options.threads === undefined ? availableParallelism() : parseIntOption('--threads', options.threads, 1, 1024);
  const minScore = parseNumberOption('--min-score', options.minScore, 0, 1);
  const bodyBytes = Math.round(parseNumberOption('--max-body-mb', options.maxBodyMb, 0.001, 1024) * 2 ** 20);
  const maxPixels = parseIntOption('--max-pixels', options.maxPixels, 1);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(options.logLevel)) throw new UsageError(`--log-level must be one of fatal, error, warn, info, debug, trace, silent; got "${options.logLevel}"`);
  if (options.model === undefined && !existsSync(DEFAULT_MODEL_FILE)) {
    throw new UsageError(`no bundled model yet (${DEFAULT_MODEL_FILE} is missing): pass --model M.onnx (make one with "fkd export RUN --onnx M.onnx")`);
  }
  const flipTta = options.flipTta === true;

  // onnxruntime and fastify load only for this command.
  const { KeypointPipeline } = await import('../../inference/pipeline.js');
  const { createServer } = await import('../../serving/server.js');
  const pipeline = await KeypointPipeline.load({ model: options.model ?? DEFAULT_MODEL_FILE, threads, flipTta, minScore, maxPixels });
  let app;
  try {
    app = await createServer({ pipeline, inference: { flipTta, minScore }, limits: { bodyBytes, maxPixels }, logger: { level: options.logLevel } });
    await app.listen({ port, host: options.host });
  } catch (err) {
    await pipeline.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${options.host} is already in use (--port 0 picks a free one)`);
    if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') throw new UsageError(`cannot listen on ${options.host}: no such address on this machine`);
    throw err;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
  process.stdout.write(`fkd serve: http://${shown}:${actualPort}/ (model ${pipeline.model.name} ${pipeline.model.version}; API: POST /v1/keypoints; Ctrl-C stops)\n`);

  // Graceful stop: refuse new work, let requests in flight finish, free the models, exit 0.
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.stdout.write(`fkd serve: ${signal}, finishing requests in flight\n`);
      const force = setTimeout(() => {
        process.stderr.write(`fkd serve: requests still running after ${SHUTDOWN_GRACE_MS / 1000} s, stopping anyway\n`);
        process.exit(1);
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      app
        .close()
        .then(() => pipeline.close())
        .then(() => {
          process.stdout.write('fkd serve: stopped\n');
          resolve();
        }, (err: unknown) => {
          process.stderr.write(`fkd serve: error while stopping: ${(err as Error).message}\n`);
          process.exitCode = 1;
          resolve();
        });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
