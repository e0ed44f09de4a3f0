import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import sharp from 'sharp';

/** Render a Vega-Lite spec to an SVG document, headless (no browser, no network). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Render a Vega-Lite spec to PNG (SVG rasterised by sharp). */
export async function vegaLiteToPng(spec: TopLevelSpec, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(await vegaLiteToSvg(spec)), { density }).png().toBuffer();
}

/** One series of a learning curve: a run's per-epoch RMSE. */
export interface CurveSeries {
  run: string;
  rows: readonly { epoch: number; trainRmse: number; devRmse: number }[];
}

const FONT = 'DejaVu Sans';

/** Train and dev RMSE against epoch for one or more runs, overlaid (colour = run, dash = split). */
export function learningCurvesSpec(series: readonly CurveSeries[], title: string): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.rows.flatMap((r) => [
      { run: s.run, epoch: r.epoch, split: 'train', rmse: r.trainRmse },
      { run: s.run, epoch: r.epoch, split: 'dev', rmse: r.devRmse },
    ]),
  ).filter((v) => Number.isFinite(v.rmse));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 300,
    config: { font: FONT },
    data: { values },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
      y: { field: 'rmse', type: 'quantitative', title: 'RMSE (96x96 crop px)', scale: { type: 'log', nice: false } },
      // Run labels carry the name and id: let the legend show them whole.
      color: { field: 'run', type: 'nominal', title: 'run', legend: { labelLimit: 640 } },
      strokeDash: { field: 'split', type: 'nominal', title: 'split', sort: ['dev', 'train'] },
    },
  };
}

/** Horizontal bars: one value per named item (e.g. RMSE per keypoint). */
export function barsSpec(items: readonly { name: string; value: number }[], title: string, axisTitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: { step: 18 },
    config: { font: FONT },
    data: { values: items.filter((i) => Number.isFinite(i.value)) },
    mark: 'bar',
    encoding: {
      y: { field: 'name', type: 'nominal', sort: null, title: null, axis: { labelLimit: 240 } },
      x: { field: 'value', type: 'quantitative', title: axisTitle },
      tooltip: [{ field: 'name' }, { field: 'value', format: '.3f' }],
    },
  };
}

/** Cumulative error distribution: share of faces with NME at most x, one line per series. */
export function cedSpec(series: readonly { name: string; points: readonly { nme: number; share: number }[] }[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 300,
    config: { font: FONT },
    data: { values: series.flatMap((s) => s.points.map((p) => ({ model: s.name, nme: p.nme, share: p.share }))) },
    mark: 'line',
    encoding: {
      x: { field: 'nme', type: 'quantitative', title: 'NME (error / outer-eye-corner distance)' },
      y: { field: 'share', type: 'quantitative', title: 'share of faces', scale: { domain: [0, 1] } },
      color: { field: 'model', type: 'nominal' },
    },
  };
}
