import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on stderr when it is a terminal; silent otherwise, so that logs and
 * tests are not flooded with redraws.
 */
export function progressBar(unit: string, format?: string): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: format ?? `{bar} {percentage}% | {value}/{total} ${unit} | {duration_formatted} elapsed | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  return {
    update(done, total, payload) {
      if (stopped) return;
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      if (started && !stopped) bar.stop();
      stopped = true;
    },
  };
}
