import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../../data/errors.js';
import { readModelFile, type ModelFileContents } from '../../models/file.js';
import { RunDirectory } from '../../training/run-directory.js';
import { exportOnnx, ExportError, ONNX_OPSET } from '../../inference/onnx/export.js';
import { writeFileAtomic } from '../../util/atomic.js';

/** A run directory's best model, or a model (or checkpoint) file itself. */
async function readSource(source: string): Promise<{ file: string; contents: ModelFileContents }> {
  const path = resolve(source);
  if (!existsSync(path)) throw new InputError({ file: source }, 'no such file or run directory');
  let file = path;
  if (statSync(path).isDirectory()) {
    file = new RunDirectory(path).bestModel;
    if (!existsSync(file)) throw new InputError({ file: source }, 'not a run directory with a best model (no best.fkd: training writes it after the first epoch)');
  }
  return { file, contents: await readModelFile(file) };
}

export function registerExportCommands(program: Command): void {
  program
    .command('export')
    .description('Export a trained model (a run directory\'s best model, or a model file) for inference')
    .argument('<source>', 'run directory (its best.fkd) or model file (.fkd)')
    .requiredOption('--onnx <file>', 'ONNX file to write (opset 13, dynamic batch, fkd metadata)')
    .action(async (source: string, options: { onnx: string }) => {
      const { file, contents } = await readSource(source);
      let bytes: Uint8Array;
      try {
        bytes = exportOnnx(contents.spec, contents.tensors, contents.metadata);
      } catch (err) {
        if (err instanceof ExportError) throw new InputError({ file }, `cannot export: ${(err as Error).message}`);
        throw err;
      }
      // Written only once onnxruntime has loaded it: a file that exists is one that runs.
      const { KeypointModel } = await import('../../inference/keypoint-model.js');
      const check = await KeypointModel.fromBytes(bytes, options.onnx, { threads: 1 });
      await check.close();
      await writeFileAtomic(options.onnx, bytes);
      const name = contents.spec.name ?? 'model';
      process.stdout.write(
        `wrote ${options.onnx}: ${name} from ${file}, ${contents.metadata.pointCount} ${contents.metadata.schema} keypoints, ONNX opset ${ONNX_OPSET}, ${(bytes.length / 1e6).toFixed(1)} MB\n`,
      );
    });
}
