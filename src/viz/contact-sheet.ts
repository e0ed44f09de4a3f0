import sharp from 'sharp';
import { FACE_PIXELS, FACE_SIZE, type KeypointSet } from '../data/dataset.js';
import type { KeypointSchema } from '../schema/types.js';

export interface ContactSheetOptions {
  /** Faces per row of the sheet. */
  columns?: number;
  /** Magnification of each 96x96 face. */
  scale?: number;
  /** Optional caption per face (e.g. its row number). */
  captions?: string[];
  /** A second set of points per face drawn as crosses (e.g. predictions against labels). */
  overlay?: Float64Array;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A PNG grid of faces with their keypoints drawn as dots in each point's named colour
 * (hollow where the value was predicted rather than labelled), with a legend.
 */
export async function renderContactSheet(set: KeypointSet, schema: KeypointSchema, options: ContactSheetOptions = {}): Promise<Buffer> {
  const columns = Math.max(1, Math.min(options.columns ?? 4, set.size || 1));
  const scale = options.scale ?? 2;
  const tile = FACE_SIZE * scale;
  const captionHeight = options.captions ? 16 : 0;
  const cellHeight = tile + captionHeight;
  const rows = Math.max(1, Math.ceil(set.size / columns));
  const legendColumns = Math.max(1, Math.floor((columns * tile) / 190));
  const legendRows = Math.ceil(schema.points.length / legendColumns);
  const legendHeight = legendRows * 16 + 10;
  const width = columns * tile;
  const height = rows * cellHeight + legendHeight;
  const stride = set.pointCount * 2;

  const faces = await Promise.all(
    Array.from({ length: set.size }, async (_, i) => ({
      input: await sharp(Buffer.from(set.images.subarray(i * FACE_PIXELS, (i + 1) * FACE_PIXELS)), {
        raw: { width: FACE_SIZE, height: FACE_SIZE, channels: 1 },
      })
        .resize(tile, tile, { kernel: 'nearest' })
        .toColourspace('srgb')
        .png()
        .toBuffer(),
      left: (i % columns) * tile,
      top: Math.floor(i / columns) * cellHeight,
    })),
  );

  const marks: string[] = [];
  const radius = Math.max(2, scale * 1.2);
  for (let i = 0; i < set.size; i++) {
    const ox = (i % columns) * tile;
    const oy = Math.floor(i / columns) * cellHeight;
    // Pixel centres sit at integer coordinates, so point u is drawn at (u + 0.5) * scale.
    const at = (v: number, o: number): string => (o + (v + 0.5) * scale).toFixed(2);
    for (let p = 0; p < set.pointCount; p++) {
      const x = set.keypoints[i * stride + 2 * p];
      const y = set.keypoints[i * stride + 2 * p + 1];
      if (Number.isNaN(x) || Number.isNaN(y)) continue;
      const colour = schema.colours[p] ?? 'yellow';
      const predicted = set.predicted?.[i * stride + 2 * p] === 1;
      marks.push(
        predicted
          ? `<circle cx="${at(x, ox)}" cy="${at(y, oy)}" r="${radius}" fill="none" stroke="${colour}" stroke-width="1.5"/>`
          : `<circle cx="${at(x, ox)}" cy="${at(y, oy)}" r="${radius}" fill="${colour}" stroke="black" stroke-width="0.6"/>`,
      );
      if (options.overlay) {
        const px = options.overlay[i * stride + 2 * p];
        const py = options.overlay[i * stride + 2 * p + 1];
        if (!Number.isNaN(px) && !Number.isNaN(py)) {
          const cx = Number(at(px, ox));
          const cy = Number(at(py, oy));
          const r = radius + 1;
          marks.push(`<path d="M${cx - r} ${cy - r}L${cx + r} ${cy + r}M${cx - r} ${cy + r}L${cx + r} ${cy - r}" stroke="${colour}" stroke-width="1.5"/>`);
        }
      }
    }
    if (options.captions?.[i] !== undefined) {
      marks.push(`<text x="${ox + 4}" y="${oy + tile + 12}" font-family="DejaVu Sans, sans-serif" font-size="11" fill="#ddd">${escapeXml(options.captions[i])}</text>`);
    }
  }
  const legendTop = rows * cellHeight + 6;
  schema.points.forEach((name, p) => {
    const lx = (p % legendColumns) * 190 + 8;
    const ly = legendTop + Math.floor(p / legendColumns) * 16;
    marks.push(`<circle cx="${lx + 5}" cy="${ly + 6}" r="4" fill="${schema.colours[p] ?? 'yellow'}"/>`);
    marks.push(`<text x="${lx + 14}" y="${ly + 10}" font-family="DejaVu Sans, sans-serif" font-size="11" fill="#eee">${escapeXml(name)}</text>`);
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${marks.join('')}</svg>`;

  return sharp({ create: { width, height, channels: 3, background: '#202020' } })
    .composite([...faces, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
}
