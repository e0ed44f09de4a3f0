/** Pixels of what is on screen: a photo or a webcam frame, held in a canvas at full resolution. */

export interface Frame {
  readonly width: number;
  readonly height: number;
  /** The picture itself (EXIF orientation applied for photos). */
  readonly canvas: HTMLCanvasElement;
}

/** Draws `source` into `canvas` at its own size. */
export function drawFrame(canvas: HTMLCanvasElement, source: CanvasImageSource, width: number, height: number): Frame {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser has no 2D canvas');
  ctx.drawImage(source, 0, 0, width, height);
  return { width, height, canvas };
}

/** RGBA bytes of the whole frame. */
export function framePixels(frame: Frame): Uint8ClampedArray {
  const ctx = frame.canvas.getContext('2d', { willReadFrequently: true })!;
  return ctx.getImageData(0, 0, frame.width, frame.height).data;
}

/** The frame as a JPEG, for sending webcam frames to the server. */
export function frameJpeg(frame: Frame, quality = 0.9): Promise<Blob> {
  return new Promise((resolve, reject) => frame.canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('could not encode the frame'))), 'image/jpeg', quality));
}
