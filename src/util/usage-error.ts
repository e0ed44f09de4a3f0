/** A wrong invocation (bad option value, missing argument) found after commander parsed it. */
export class UsageError extends Error {
  override name = 'UsageError';
}
