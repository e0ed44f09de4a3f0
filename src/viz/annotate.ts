/**
 * A photo with its faces drawn on it: each detector box with its score, and each keypoint as a
 * dot in its named colour. Line widths and dot sizes follow the photo's size (and the face's,
 * so a small face in a large photo is not buried under its dots).
 */
import sharp from 'sharp';
import type { FaceKeypoints, PhotoResult } from '../inference/pipeline.js';

export interface AnnotateOptions {
  /** Colour per keypoint name (CSS colour); names not listed are drawn yellow. */
  colours?: Readonly<Record<string, string>>;
  /** JPEG quality of the result (default 90). */
  quality?: number;
}

const BOX_COLOUR = '#00e5ff';
const DEFAULT_POINT_COLOUR = 'yellow';

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Pixel centres are at integers, so image point x is drawn at x + 0.5 in SVG's pixel-edge coordinates. */
function at(v: number): string {
  return (v + 0.5).toFixed(2);
}

/** SVG marks for one face; `unit` is the photo's drawing unit in pixels. */
function faceMarks(face: FaceKeypoints, unit: number, colours: Readonly<Record<string, string>>): string[] {
  const { box } = face;
  const stroke = 1.5 * unit;
  const marks = [
    `<rect x="${(box.x + 0.5).toFixed(2)}" y="${(box.y + 0.5).toFixed(2)}" width="${box.width.toFixed(2)}" height="${box.height.toFixed(2)}" fill="none" stroke="${BOX_COLOUR}" stroke-width="${stroke.toFixed(2)}"/>`,
  ];
  const fontSize = Math.max(9, 7 * unit);
  const labelY = box.y > fontSize * 1.2 ? box.y - stroke : box.y + box.height + fontSize;
  marks.push(
    `<text x="${(box.x + 0.5).toFixed(2)}" y="${labelY.toFixed(2)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize.toFixed(1)}" fill="${BOX_COLOUR}" stroke="black" stroke-width="${(fontSize / 12).toFixed(2)}" paint-order="stroke">${face.score.toFixed(2)}</text>`,
  );
  // A dot about 1/50 of the face, but never larger than 2.5 units nor smaller than a pixel.
  const radius = Math.max(1, Math.min(2.5 * unit, face.cropBox.s / 50));
  for (const point of face.keypoints) {
    const colour = escapeXml(colours[point.name] ?? DEFAULT_POINT_COLOUR);
    marks.push(`<circle cx="${at(point.x)}" cy="${at(point.y)}" r="${radius.toFixed(2)}" fill="${colour}" stroke="black" stroke-width="${(radius / 3).toFixed(2)}"/>`);
  }
  return marks;
}

/**
 * The photo (the same bytes or path the result came from; EXIF orientation applied, as the
 * pipeline did) with `result`'s faces drawn, as a JPEG (transparency flattened onto white).
 */
export async function annotatePhoto(input: string | Uint8Array, result: Pick<PhotoResult, 'width' | 'height' | 'faces'>, options: AnnotateOptions = {}): Promise<Buffer> {
  const { width, height } = result;
  // One unit per 400 pixels of the longer side: a 512 px photo draws 1.5 px boxes, a 4000 px one 15 px.
  const unit = Math.max(1, Math.max(width, height) / 400);
  const marks = result.faces.flatMap((face) => faceMarks(face, unit, options.colours ?? {}));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${marks.join('')}</svg>`;
  // Oriented and flattened to RGB first, so that the overlay lands on the pixels the result refers to.
  const { data, info } = await sharp(input, { limitInputPixels: false })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height) {
    throw new Error(`annotatePhoto: the photo is ${info.width}x${info.height} once oriented, the result says ${width}x${height}`);
  }
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .jpeg({ quality: options.quality ?? 90 })
    .toBuffer();
}
