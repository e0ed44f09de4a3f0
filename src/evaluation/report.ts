import { join } from 'node:path';
import type { KeypointSet } from '../data/dataset.js';
import { selectRows } from '../data/dataset.js';
import type { KeypointSchema } from '../schema/types.js';
import { renderContactSheet } from '../viz/contact-sheet.js';
import { barsSpec, cedSpec, learningCurvesSpec, vegaLiteToSvg } from '../viz/charts.js';
import { writeFileAtomic } from '../util/atomic.js';
import { worstFaces, type Evaluation } from './metrics.js';

export interface ReportInput {
  title: string;
  model: string;
  dataFile: string;
  schema: KeypointSchema;
  evaluation: Evaluation;
  labels: KeypointSet;
  predictions: ArrayLike<number>;
  /** Per-epoch RMSE of the training run, when known. */
  learningCurve?: readonly { epoch: number; trainRmse: number; devRmse: number }[];
  /** How many worst faces to draw. */
  worst?: number;
}

const escapeHtml = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/** Histogram of per-face RMSE (the error distribution). */
function histogramSpec(values: readonly number[]) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Per-face RMSE',
    width: 420,
    height: 240,
    config: { font: 'DejaVu Sans' },
    data: { values: values.map((rmse) => ({ rmse })) },
    mark: 'bar',
    encoding: {
      x: { field: 'rmse', type: 'quantitative', bin: { maxbins: 40 }, title: 'face RMSE (px)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'faces' },
    },
  } as const;
}

/**
 * Write an evaluation report into `dir`: index.html (self-contained: charts inline as SVG,
 * the worst faces as an embedded PNG), worst-faces.png and evaluation.json.
 */
export async function writeEvaluationReport(dir: string, input: ReportInput): Promise<string> {
  const { evaluation, schema } = input;
  const worstRows = worstFaces(evaluation, input.worst ?? 16);
  const worstSet = selectRows(input.labels, worstRows);
  const stride = schema.points.length * 2;
  const worstPredictions = new Float64Array(worstRows.length * stride);
  worstRows.forEach((r, i) => {
    for (let c = 0; c < stride; c++) worstPredictions[i * stride + c] = input.predictions[r * stride + c];
  });
  const faceByRow = new Map(evaluation.perFace.map((f) => [f.row, f]));
  const worstPng = await renderContactSheet(worstSet, schema, {
    columns: 4,
    scale: 3,
    overlay: worstPredictions,
    captions: worstRows.map((r) => `row ${r}: RMSE ${fmt(faceByRow.get(r)!.rmse, 2)} px`),
  });

  const charts = [
    await vegaLiteToSvg(barsSpec(evaluation.perKeypoint.map((k) => ({ name: k.name, value: k.rmse })), 'RMSE per keypoint', 'RMSE (px)')),
    await vegaLiteToSvg(cedSpec([{ name: input.model, points: evaluation.ced }], 'Cumulative error distribution')),
    await vegaLiteToSvg(histogramSpec(evaluation.perFace.map((f) => f.rmse)) as never),
  ];
  if (input.learningCurve?.length) charts.push(await vegaLiteToSvg(learningCurvesSpec([{ run: input.model, rows: input.learningCurve }], 'Learning curves')));

  const rows = evaluation.perKeypoint
    .map((k) => `<tr><td>${escapeHtml(k.name)}</td><td>${k.coordinates}</td><td>${fmt(k.mse)}</td><td>${fmt(k.rmse)}</td><td>${fmt(k.meanDistance)}</td></tr>`)
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; margin: 24px; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 8px 0 24px; }
td, th { border: 1px solid #ccc; padding: 3px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; }
.summary td { font-weight: bold; }
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
<p>Model <b>${escapeHtml(input.model)}</b> on <code>${escapeHtml(input.dataFile)}</code>: ${evaluation.faces} faces, ${evaluation.coordinates} labelled coordinates of ${schema.points.length} keypoints (schema ${escapeHtml(schema.name)}). Errors in 96x96 crop pixels (YTF-15 protocol); NME divides by the outer-eye-corner distance (${escapeHtml(schema.points[schema.normalisingPair[0]])} to ${escapeHtml(schema.points[schema.normalisingPair[1]])}).</p>
<table class="summary" id="summary">
<tr><th>MSE</th><th>RMSE</th><th>NME</th><th>failure rate (NME &gt; 0.10)</th><th>AUC@0.08</th></tr>
<tr><td>${fmt(evaluation.mse, 4)}</td><td>${fmt(evaluation.rmse, 4)}</td><td>${fmt(evaluation.nme, 4)}</td><td>${fmt(evaluation.failureRate, 4)}</td><td>${fmt(evaluation.aucAt008, 4)}</td></tr>
</table>
<h2>Per keypoint</h2>
<table id="per-keypoint"><tr><th>keypoint</th><th>coordinates</th><th>MSE</th><th>RMSE</th><th>mean distance</th></tr>
${rows}
</table>
<div class="charts">${charts.map((svg) => `<figure>${svg}</figure>`).join('\n')}</div>
<h2>The ${worstRows.length} worst faces</h2>
<p>Dots: true points; crosses: predictions (same colour per keypoint).</p>
<img id="worst-faces" alt="worst faces" src="data:image/png;base64,${worstPng.toString('base64')}">
</body></html>
`;
  const htmlPath = join(dir, 'index.html');
  await writeFileAtomic(join(dir, 'worst-faces.png'), worstPng);
  const { perFace, ...summary } = evaluation;
  await writeFileAtomic(join(dir, 'evaluation.json'), JSON.stringify({ model: input.model, data: input.dataFile, ...summary, worstRows }, null, 2) + '\n');
  await writeFileAtomic(htmlPath, html);
  return htmlPath;
}
