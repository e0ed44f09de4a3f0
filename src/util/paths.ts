import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { existsSync } from 'node:fs';

/** The package's root folder (works from src/ under tsx and from dist/ once compiled). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Shared data folder: $FKD_DATA, else ../shared/data beside the package. */
export function dataRoot(): string {
  return process.env.FKD_DATA ? resolve(process.env.FKD_DATA) : resolve(PACKAGE_ROOT, '..', 'shared', 'data');
}

/** The data root's sub-folder if it exists, else undefined (callers decide whether to skip or fail). */
export function findDataDir(sub: string): string | undefined {
  const dir = resolve(dataRoot(), sub);
  return existsSync(dir) ? dir : undefined;
}
