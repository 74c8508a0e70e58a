/**
 * The bench's picture: throughput over time for each scenario beside the accept→receive latency
 * histogram, drawn by Vega-Lite and rasterised by resvg with a font from npm, so the PNG looks
 * the same on any machine and nothing is fetched.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ThroughputPoint {
  readonly scenario: string;
  readonly series: string;
  readonly second: number;
  readonly perSecond: number;
}

export interface LatencySample {
  readonly scenario: string;
  readonly ms: number;
}

function fontFiles(): string[] {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return [path.join(dir, 'DejaVuSans.ttf'), path.join(dir, 'DejaVuSans-Bold.ttf')];
}

/** Upper bounds of the histogram's buckets, in ms: roughly logarithmic, labelled as people read them. */
const bucketBounds = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 60_000, Number.POSITIVE_INFINITY];

function histogram(samples: readonly LatencySample[]) {
  const rows: { scenario: string; bucket: string; order: number; share: number }[] = [];
  const scenarios = [...new Set(samples.map((s) => s.scenario))];
  for (const scenario of scenarios) {
    const values = samples.filter((s) => s.scenario === scenario).map((s) => s.ms);
    bucketBounds.forEach((bound, order) => {
      const floor = order === 0 ? Number.NEGATIVE_INFINITY : (bucketBounds[order - 1] ?? 0);
      const count = values.filter((v) => v > floor && v <= bound).length;
      const bucket = Number.isFinite(bound) ? (bound >= 1000 ? `${bound / 1000} s` : `${bound} ms`) : 'more';
      rows.push({ scenario, bucket, order, share: values.length > 0 ? count / values.length : 0 });
    });
  }
  return rows;
}

export async function renderChart(
  title: string,
  throughput: readonly ThroughputPoint[],
  latency: readonly LatencySample[],
): Promise<Buffer> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 15 },
    config: { font: 'DejaVu Sans', view: { stroke: '#ddd' } },
    hconcat: [
      {
        title: 'Throughput (per second, 1 s buckets)',
        width: 520,
        height: 300,
        data: { values: throughput as unknown as Record<string, unknown>[] },
        mark: { type: 'line', interpolate: 'monotone', strokeWidth: 1.8 },
        encoding: {
          x: { field: 'second', type: 'quantitative', title: 'seconds since the scenario started' },
          y: { field: 'perSecond', type: 'quantitative', title: 'per second' },
          color: { field: 'label', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 300 } },
        },
        transform: [{ calculate: "datum.scenario + ' · ' + datum.series", as: 'label' }],
      },
      {
        title: 'Accept → receive latency (first attempts)',
        width: 420,
        height: 300,
        data: { values: histogram(latency) as unknown as Record<string, unknown>[] },
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'bucket', type: 'ordinal', sort: { field: 'order' }, title: 'milliseconds, at most', axis: { labelAngle: -45 } },
          xOffset: { field: 'scenario', type: 'nominal' },
          y: { field: 'share', type: 'quantitative', title: 'share of the scenario’s deliveries', axis: { format: '%' } },
          color: { field: 'scenario', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 260 } },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 1.5 },
    font: { fontFiles: fontFiles(), loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
  }).render();
  return png.asPng();
}
