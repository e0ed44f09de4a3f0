/**
 * Keypoints drawn over the picture, and which one is under the pointer. What was drawn is kept
 * (image pixels and point names) and published on the canvas as data-points, so that a test
 * can compare the drawing with the API's answer.
 */
import type { ApiFace } from '../../src/serving/api-types.js';

export interface DrawnPoint {
  face: number;
  name: string;
  /** Image pixels (the overlay canvas has the image's size). */
  x: number;
  y: number;
  colour: string;
}

const FALLBACK_COLOUR = '#00e5ff';

export class KeypointOverlay {
  private drawn: DrawnPoint[] = [];

  constructor(private readonly canvas: HTMLCanvasElement) {}

  get points(): readonly DrawnPoint[] {
    return this.drawn;
  }

  /** Clears and draws every face's box and keypoints; `colours` is one CSS colour per point, in schema order. */
  draw(width: number, height: number, faces: readonly ApiFace[], colours: readonly string[] | undefined): void {
    const { canvas } = this;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext('2d')!;
    ctx.clearRect(0, 0, width, height);
    // Sizes relative to the picture, so marks look alike on a thumbnail and a 12-megapixel photo.
    const unit = Math.max(1, Math.max(width, height) / 400);
    this.drawn = [];
    faces.forEach((face, f) => {
      ctx.lineWidth = unit;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.75)';
      ctx.setLineDash([4 * unit, 3 * unit]);
      ctx.strokeRect(face.box.x, face.box.y, face.box.width, face.box.height);
      ctx.setLineDash([]);
      face.keypoints.forEach((p, i) => {
        const colour = colours?.[i] ?? FALLBACK_COLOUR;
        ctx.beginPath();
        ctx.arc(p.x, p.y, 2.5 * unit, 0, 2 * Math.PI);
        ctx.fillStyle = colour;
        ctx.fill();
        ctx.lineWidth = 0.8 * unit;
        ctx.strokeStyle = 'black';
        ctx.stroke();
        this.drawn.push({ face: f, name: p.name, x: p.x, y: p.y, colour });
      });
    });
    canvas.dataset.points = JSON.stringify(this.drawn.map(({ face, name, x, y }) => ({ face, name, x, y })));
  }

  clear(): void {
    this.draw(this.canvas.width, this.canvas.height, [], undefined);
  }

  /** The drawn point nearest to a pointer position (CSS pixels within the canvas), if within `radiusCss`. */
  pointAt(offsetX: number, offsetY: number, radiusCss = 12): DrawnPoint | undefined {
    const scale = this.canvas.width / this.canvas.clientWidth;
    const x = offsetX * scale;
    const y = offsetY * scale;
    let best: DrawnPoint | undefined;
    let bestDistance = radiusCss * scale;
    for (const p of this.drawn) {
      const d = Math.hypot(p.x - x, p.y - y);
      if (d <= bestDistance) {
        best = p;
        bestDistance = d;
      }
    }
    return best;
  }

  /** A drawn point's position in CSS pixels within the canvas (for placing a label). */
  cssPosition(p: DrawnPoint): { left: number; top: number } {
    const scale = this.canvas.clientWidth / this.canvas.width;
    return { left: p.x * scale, top: p.y * scale };
  }
}
