/** The server's resource limits; each one bounds what a single client can make the server hold or wait for. */
export interface ServeLimits {
  /** Largest request body (raw image or whole multipart form), in bytes. */
  readonly bodyBytes: number;
  /** Largest image, in pixels (width x height from its header, checked before decoding). */
  readonly maxPixels: number;
  /** The whole body must arrive within this time after the headers (slow uploads get 408). */
  readonly bodyTimeoutMs: number;
  /** A socket idle this long is closed (clients that connect and send nothing, or stall mid-headers). */
  readonly connectionTimeoutMs: number;
  /** Node's own cap on receiving a whole request: a backstop for bodyTimeoutMs (it answers a bare 408). */
  readonly requestTimeoutMs: number;
  /** Images being processed at once: 2 lets one image decode while another is in the detector. */
  readonly maxConcurrent: number;
  /** Images waiting beyond those; more are refused with 503 so that latency stays bounded. */
  readonly maxQueued: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  bodyBytes: 10 * 1024 * 1024,
  maxPixels: 25_000_000,
  bodyTimeoutMs: 15_000,
  connectionTimeoutMs: 30_000,
  requestTimeoutMs: 60_000,
  maxConcurrent: 2,
  maxQueued: 64,
};
