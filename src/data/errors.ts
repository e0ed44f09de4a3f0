/** Where in an input a problem was found; every field optional but the file. */
export interface InputLocation {
  file: string;
  line?: number;
  field?: string;
}

/** Bad user input: a message that names the file, and the line and field where known. */
export class InputError extends Error {
  readonly location: InputLocation;
  constructor(location: InputLocation, problem: string) {
    const where = [location.file, location.line !== undefined ? `line ${location.line}` : '', location.field ? `field "${location.field}"` : '']
      .filter(Boolean)
      .join(', ');
    super(`${where}: ${problem}`);
    this.name = 'InputError';
    this.location = location;
  }
}
