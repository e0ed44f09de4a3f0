/**
 * From detected faces to the keypoint model's input and back: every face of a photo cropped
 * by the YTF-15 protocol (96x96 grey, from the luma image computed once per photo) into one
 * batch, and the model's crop coordinates mapped back to photo pixels.
 */
import { cropFace, cropPointsToImage, type FaceBox, type GreyPixels } from '../../data/crop.js';

/** The protocol crops of `boxes`, face after face, `size`² grey bytes each. */
export function cropFaceBatch(grey: GreyPixels, boxes: readonly FaceBox[], size: number): Uint8Array {
  const pixels = size * size;
  const batch = new Uint8Array(boxes.length * pixels);
  boxes.forEach((box, i) => batch.set(cropFace(grey, box, size), i * pixels));
  return batch;
}

/** Face i's crop coordinates (x0, y0, x1, y1, … in `coords`) in image pixels, as named points. */
export function namedImagePoints(
  box: FaceBox,
  coords: Float64Array,
  face: number,
  names: readonly string[],
  size: number,
): { name: string; x: number; y: number }[] {
  const stride = names.length * 2;
  const image = cropPointsToImage(box, coords.subarray(face * stride, (face + 1) * stride), size);
  return names.map((name, p) => ({ name, x: image[2 * p], y: image[2 * p + 1] }));
}
