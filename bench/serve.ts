/**
 * Load test of `fkd serve` on loopback: 16 concurrent clients (autocannon) posting a face photo,
 * one request in ten malformed (garbage bytes, a truncated JPEG, a JSON body, a pixel bomb, an
 * unknown path). Bounded by a request count and a time limit. The server runs as its own
 * process, so a crash shows as its exit and its memory is its own.
 *
 *   npm run bench:serve [-- --requests 400 --connections 16 --max-seconds 120 --model M.onnx]
 *
 * Checks: no 5xx, every malformed request answered 4xx, every good one 200, the server alive at
 * the end, resident memory flat (sampled through the run). The last line is one JSON object
 * { rps, p50_ms, p99_ms, errors_5xx, rss_start_mb, rss_end_mb, … }.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { deflateSync } from 'node:zlib';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { PACKAGE_ROOT } from '../src/util/paths.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '400' },
    connections: { type: 'string', default: '16' },
    'max-seconds': { type: 'string', default: '120' },
    warmup: { type: 'string', default: '64' },
    model: { type: 'string', default: resolve(PACKAGE_ROOT, 'models', 'default.onnx') },
    threads: { type: 'string' },
  },
});
const totalRequests = Number(values.requests);
const connections = Number(values.connections);
const maxSeconds = Number(values['max-seconds']);
const model = resolve(values.model!);
if (!existsSync(model)) {
  process.stderr.write(`bench:serve: no model at ${model} (pass --model M.onnx)\n`);
  process.exit(2);
}

/** Start `fkd serve --port 0` from the sources; resolves with its port once it listens. */
function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const entry = "const { main } = await import('./src/cli/index.ts'); await main(['node', 'fkd', ...process.argv.slice(1)]);";
  const args = ['--import', 'tsx', '--input-type=module', '-e', entry, 'serve', '--port', '0', '--model', model, ...(values.threads ? ['--threads', values.threads] : [])];
  const child = spawn(process.execPath, args, { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) resolvePromise({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`fkd serve exited with ${code} before listening: ${out}`)));
  });
}

function rssMb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024);
}

/** A PNG header claiming 30000x30000 pixels, a few hundred bytes in all. */
function pixelBomb(): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const chunk = (type: string, data: Buffer): Buffer => {
    const typed = Buffer.concat([Buffer.from(type), data]);
    let c = 0xffffffff;
    for (const b of typed) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE((c ^ 0xffffffff) >>> 0);
    return Buffer.concat([head, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(30_000, 0);
  ihdr.writeUInt32BE(30_000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(32))), chunk('IEND', Buffer.alloc(0))]);
}

async function main(): Promise<void> {
  const sample = resolve(PACKAGE_ROOT, 'samples', 'astronaut.png');
  // A webcam-like upload: a 512x512 JPEG.
  const photo = existsSync(sample)
    ? await sharp(sample).jpeg({ quality: 85 }).toBuffer()
    : await sharp({ create: { width: 512, height: 512, channels: 3, background: '#b09080' } }).jpeg().toBuffer();
  const malformed: autocannon.Request[] = [
    { method: 'POST', path: '/v1/keypoints', headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('this is not a picture') },
    { method: 'POST', path: '/v1/keypoints', headers: { 'content-type': 'image/jpeg' }, body: photo.subarray(0, photo.length >> 1) },
    { method: 'POST', path: '/v1/keypoints', headers: { 'content-type': 'application/json' }, body: '{"image":"nope"}' },
    { method: 'POST', path: '/v1/keypoints', headers: { 'content-type': 'image/png' }, body: pixelBomb() },
    { method: 'GET', path: '/v1/nothing-here', headers: {} },
  ];
  const good: autocannon.Request = { method: 'POST', path: '/v1/keypoints', headers: { 'content-type': 'image/jpeg' }, body: photo };
  // Every tenth request (counted over all connections) is malformed, the kinds in turn.
  let sent = 0;
  const nextRequest = (_request: autocannon.Request, context: Record<string, unknown>): autocannon.Request => {
    const n = sent++;
    context.malformed = n % 10 === 9;
    // A copy: autocannon stores the built request buffer on the object it gets back.
    return { ...(context.malformed ? malformed[Math.floor(n / 10) % malformed.length] : good) };
  };

  const { child, port } = await startServer();
  // Never leave the server behind, whatever happens to this process.
  process.once('exit', () => child.kill('SIGKILL'));
  let crashed = false;
  const onCrash = (code: number | null, signal: string | null): void => {
    crashed = true;
    process.stderr.write(`bench:serve: the server exited during the run (code ${code}, signal ${signal})\n`);
  };
  child.once('exit', onCrash);
  const base = `http://127.0.0.1:${port}`;
  try {
    // Warm up at full concurrency (first session runs, allocator and buffer pools growing to
    // their working size) before the starting memory is read.
    const warm = await autocannon({ url: base, connections, amount: Number(values.warmup), timeout: 30, requests: [good] });
    if (warm.non2xx > 0 || warm.errors > 0) throw new Error(`warm-up: ${warm.non2xx} non-2xx answers, ${warm.errors} errors`);
    const rssStart = await rssMb(child.pid!);
    const samples: number[] = [rssStart];
    const sampler = setInterval(() => void rssMb(child.pid!).then((mb) => samples.push(mb), () => undefined), 1000);

    const statuses = new Map<number, number>();
    const badAnswers: number[] = [];
    let keypointsMs = 0;
    let totalMs = 0;
    let timed = 0;
    const started = performance.now();
    const result = await new Promise<autocannon.Result>((resolveRun, rejectRun) => {
      const run = autocannon({
        url: base,
        connections,
        amount: totalRequests,
        timeout: 30,
        requests: [
          {
            setupRequest: nextRequest as (request: autocannon.Request, context: object) => autocannon.Request,
            onResponse: (status: number, body: string, context: object) => {
              const malformedRequest = (context as Record<string, unknown>).malformed === true;
              statuses.set(status, (statuses.get(status) ?? 0) + 1);
              if (malformedRequest) badAnswers.push(status);
              if (status === 200 && !malformedRequest) {
                const t = (JSON.parse(body) as { timings: { keypointsMs: number; totalMs: number } }).timings;
                keypointsMs += t.keypointsMs;
                totalMs += t.totalMs;
                timed++;
              }
            },
          },
        ],
      }, (err, res) => (err ? rejectRun(err) : resolveRun(res)));
      // autocannon ignores its duration when given an amount: stop it ourselves, so the run is
      // bounded in time as well as in count even if the server slows to a crawl.
      const limit = setTimeout(() => run.stop(), maxSeconds * 1000);
      run.once('done', () => clearTimeout(limit));
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const alive = !crashed && (await fetch(`${base}/healthz`)).status === 200;
    const rssEnd = await rssMb(child.pid!);

    const count = (predicate: (status: number) => boolean) => [...statuses].filter(([s]) => predicate(s)).reduce((n, [, c]) => n + c, 0);
    const answered = count(() => true);
    const errors5xx = count((s) => s >= 500);
    const responses4xx = count((s) => s >= 400 && s < 500);
    const ok = count((s) => s === 200);
    const malformedAnswered4xx = badAnswers.filter((s) => s >= 400 && s < 500).length;
    const half = Math.floor(samples.length / 2);
    const summary = {
      rps: Math.round((answered / seconds) * 10) / 10,
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
      errors_5xx: errors5xx,
      rss_start_mb: Math.round(rssStart),
      rss_end_mb: Math.round(rssEnd),
      rss_peak_mb: Math.round(Math.max(...samples, rssEnd)),
      requests: answered,
      ok_200: ok,
      responses_4xx: responses4xx,
      malformed: badAnswers.length,
      malformed_answered_4xx: malformedAnswered4xx,
      rss_first_half_max_mb: Math.round(Math.max(...samples.slice(0, half + 1))),
      rss_second_half_max_mb: Math.round(Math.max(...samples.slice(half))),
      transport_errors: result.errors,
      timeouts: result.timeouts,
      connections,
      seconds: Math.round(seconds * 10) / 10,
      server_alive: alive,
      keypoints_share_of_pipeline: timed ? Math.round((keypointsMs / totalMs) * 1000) / 1000 : null,
    };
    process.stdout.write(`${answered} requests in ${summary.seconds} s at ${connections} connections: ${summary.rps} req/s, p50 ${summary.p50_ms} ms, p99 ${summary.p99_ms} ms\n`);
    process.stdout.write(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}; 5xx ${errors5xx}; server alive: ${alive}\n`);
    process.stdout.write(`server RSS: ${summary.rss_start_mb} MB after warm-up, ${summary.rss_end_mb} MB at the end, peak ${summary.rss_peak_mb} MB\n`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    const failures = [
      errors5xx > 0 && `${errors5xx} responses were 5xx`,
      !alive && 'the server did not survive the run',
      malformedAnswered4xx !== badAnswers.length && `${badAnswers.length - malformedAnswered4xx} malformed requests were not answered 4xx`,
      ok !== answered - badAnswers.length && `${answered - badAnswers.length - ok} good requests were not answered 200`,
      result.errors > 0 && `${result.errors} transport errors`,
    ].filter(Boolean);
    if (failures.length > 0) {
      process.stderr.write(`bench:serve: ${failures.join('; ')}\n`);
      process.exitCode = 1;
    }
  } finally {
    if (!crashed) {
      child.off('exit', onCrash);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}

await main();
