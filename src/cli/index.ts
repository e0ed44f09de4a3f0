import { Command } from 'commander';
import { InputError } from '../data/errors.js';
import { registerDataCommands } from './commands/data.js';
import { registerTrainCommands } from './commands/train.js';
import { registerRunsCommands } from './commands/runs.js';
import { registerEvaluateCommands } from './commands/evaluate.js';
import { registerFillCommands } from './commands/fill.js';
import { registerExportCommands } from './commands/export.js';
import { registerPredictCommands } from './commands/predict.js';
import { registerServeCommands } from './commands/serve.js';
import { UsageError } from '../util/usage-error.js';

/** Every verb registers itself here; a command module exports one `register…(program)` function. */
export function buildProgram(): Command {
  const program = new Command('fkd')
    .description('Facial keypoint detection: data, training, evaluation, inference, serving')
    .version('0.1.0')
    .showHelpAfterError();
  registerDataCommands(program);
  registerTrainCommands(program);
  registerRunsCommands(program);
  registerEvaluateCommands(program);
  registerFillCommands(program);
  registerExportCommands(program);
  registerPredictCommands(program);
  registerServeCommands(program);
  return program;
}

/** Run the CLI; user errors print one clear line and exit non-zero, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  // Output piped into `head` and closed early is not an error: the command still finishes its
  // work (files, registry), only the unread output is dropped.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const isUserError =
      err instanceof InputError || err instanceof UsageError || (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOENT');
    if (isUserError) {
      process.stderr.write(`fkd: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

