/** When each request reached the server, so that answers can report their whole time (body upload included). */
import type { IncomingMessage } from 'node:http';

const arrivals = new WeakMap<IncomingMessage, number>();

export function markArrival(request: IncomingMessage): void {
  arrivals.set(request, performance.now());
}

/** Milliseconds since markArrival (0 if it was never marked). */
export function sinceArrival(request: IncomingMessage): number {
  const at = arrivals.get(request);
  return at === undefined ? 0 : performance.now() - at;
}
