import sharp from 'sharp';
import type { EpochMetrics } from './metrics.js';

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 24, top: 36, bottom: 48 };

const escapeXml = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  // From the last tick at or below lo to the first at or above hi, so the data always fits.
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let v = first; v <= last + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

/** Train and dev RMSE (pixels) against epoch, as an SVG document. */
export function learningCurveSvg(rows: readonly EpochMetrics[], title: string): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const values = rows.flatMap((r) => [r.trainRmse, r.devRmse]).filter(Number.isFinite);
  // Headroom above the highest point keeps the curves clear of the top edge.
  const yTicks = niceTicks(0, values.length ? Math.max(...values) * 1.08 : 1);
  const yMax = yTicks[yTicks.length - 1] || 1;
  const xMax = Math.max(1, rows.length ? rows[rows.length - 1].epoch : 1);
  const xTicks = niceTicks(1, xMax, 6).filter((t) => Number.isInteger(t) && t >= 1 && t <= xMax);
  const x = (epoch: number): number => MARGIN.left + (xMax === 1 ? plotW / 2 : ((epoch - 1) / (xMax - 1)) * plotW);
  const y = (v: number): number => MARGIN.top + plotH - (v / yMax) * plotH;
  const line = (key: 'trainRmse' | 'devRmse', colour: string): string => {
    const points = rows.filter((r) => Number.isFinite(r[key])).map((r) => `${x(r.epoch).toFixed(1)},${y(r[key]).toFixed(1)}`);
    const dots = points.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${colour}"/>`).join('');
    return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>${dots}`;
  };
  const grid = yTicks
    .map((t) => `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${MARGIN.left - 8}" y="${y(t) + 4}" text-anchor="end">${t}</text>`)
    .join('');
  const xAxis = xTicks.map((t) => `<text x="${x(t)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${t}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${MARGIN.left}" y="22" font-size="15">${escapeXml(title)}</text>
${grid}${xAxis}
<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#333"/>
<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom}" stroke="#333"/>
<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">epoch</text>
<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">RMSE (pixels)</text>
${line('trainRmse', '#1f77b4')}${line('devRmse', '#d62728')}
<line x1="${WIDTH - MARGIN.right - 150}" x2="${WIDTH - MARGIN.right - 130}" y1="18" y2="18" stroke="#1f77b4" stroke-width="2"/>
<text x="${WIDTH - MARGIN.right - 125}" y="22">train</text>
<line x1="${WIDTH - MARGIN.right - 75}" x2="${WIDTH - MARGIN.right - 55}" y1="18" y2="18" stroke="#d62728" stroke-width="2"/>
<text x="${WIDTH - MARGIN.right - 50}" y="22">dev</text>
</svg>
`;
}

export async function learningCurvePng(rows: readonly EpochMetrics[], title: string): Promise<Buffer> {
  return sharp(Buffer.from(learningCurveSvg(rows, title))).png().toBuffer();
}
