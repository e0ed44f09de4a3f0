import { UsageError } from '../util/usage-error.js';

/** An integer option within [min, max], or a UsageError naming the option. */
export function parseIntOption(name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, got "${text}"`);
  }
  return value;
}

/** A number option within [min, max]. */
export function parseNumberOption(name: string, text: string, min: number, max = Number.POSITIVE_INFINITY): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`${name} must be a number from ${min}${Number.isFinite(max) ? ` to ${max}` : ' up'}, got "${text}"`);
  }
  return value;
}
