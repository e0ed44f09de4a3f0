import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { InputError } from '../../data/errors.js';
import { readModelFile, type ModelFileContents } from '../../models/file.js';
import { RunDirectory } from '../../training/run-directory.js';
import { exportOnnxEnsemble, ExportError, ONNX_OPSET } from '../../inference/onnx/export.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { UsageError } from '../../util/usage-error.js';
import { compareEnsembleWithEngine, VERIFY_TOLERANCE_PX } from '../../inference/onnx/verify.js';
import type { KeypointModel } from '../../inference/keypoint-model.js';
import { nativeEngine } from '../../engine/native.js';

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

/** The export's largest difference from the engine; an error when the engine is missing or they disagree. */
async function verify(members: readonly { file: string; contents: ModelFileContents }[], onnx: KeypointModel): Promise<number> {
  try {
    nativeEngine();
  } catch (err) {
    throw new UsageError(`--verify needs the libtorch engine: ${(err as Error).message}`);
  }
  const difference = await compareEnsembleWithEngine(members, onnx);
  if (!(difference <= VERIFY_TOLERANCE_PX)) {
    throw new InputError({ file: members[0].file }, `the ONNX export differs from the libtorch engine by ${difference} px (tolerance ${VERIFY_TOLERANCE_PX} px); nothing written`);
  }
  return difference;
}

/** Ensemble members must mean the same thing: same keypoint schema and coordinate convention. */
function checkMembersAgree(members: readonly { file: string; contents: ModelFileContents }[]): void {
  const first = members[0].contents.metadata;
  for (const { file, contents } of members.slice(1)) {
    const m = contents.metadata;
    if (m.schema !== first.schema || m.pointCount !== first.pointCount || m.normalization !== first.normalization) {
      throw new InputError(
        { file },
        `predicts ${m.pointCount} ${m.schema} keypoints (${m.normalization}) but ${members[0].file} predicts ${first.pointCount} ${first.schema} (${first.normalization}); an ensemble's members must agree`,
      );
    }
  }
}

export function registerExportCommands(program: Command): void {
  program
    .command('export')
    .description('Export a trained model (a run directory\'s best model, or a model file) for inference; several sources make one ensemble model that averages their keypoints')
    .argument('<sources...>', 'run directories (their best.fkd) or model files (.fkd); more than one = an ensemble')
    .requiredOption('--onnx <file>', 'ONNX file to write (opset 13, dynamic batch, fkd metadata)')
    .option('--verify', `also run test faces through the libtorch engine and onnxruntime; fail unless they agree within ${VERIFY_TOLERANCE_PX} px`)
    .action(async (sources: string[], options: { onnx: string; verify?: boolean }) => {
      const members = [];
      for (const source of sources) members.push(await readSource(source));
      checkMembersAgree(members);
      const { file, contents } = members[0];
      let bytes: Uint8Array;
      try {
        bytes = exportOnnxEnsemble(
          members.map((m) => ({ spec: m.contents.spec, weights: m.contents.tensors })),
          contents.metadata,
        );
      } catch (err) {
        if (err instanceof ExportError) throw new InputError({ file }, `cannot export: ${(err as Error).message}`);
        throw err;
      }
      // Written only once onnxruntime has loaded it: a file that exists is one that runs.
      const { KeypointModel } = await import('../../inference/keypoint-model.js');
      const check = await KeypointModel.fromBytes(bytes, options.onnx, { threads: options.verify ? availableParallelism() : 1 });
      let verified = '';
      try {
        if (options.verify) verified = `; verified against libtorch: max difference ${(await verify(members, check)).toExponential(1)} px`;
      } finally {
        await check.close();
      }
      await writeFileAtomic(options.onnx, bytes);
      const name = members.length > 1 ? `an ensemble of ${members.length} models` : (contents.spec.name ?? 'model');
      process.stdout.write(
        `wrote ${options.onnx}: ${name} from ${members.map((m) => m.file).join(', ')}, ${contents.metadata.pointCount} ${contents.metadata.schema} keypoints, ONNX opset ${ONNX_OPSET}, ${(bytes.length / 1e6).toFixed(1)} MB${verified}\n`,
      );
    });
}
