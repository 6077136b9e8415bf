import type { TopLevelSpec } from 'vega-lite';
import { formatNumber } from './color-scale.js';
import { createFigure, type Figure } from './figure.js';
import { missingValuesSentence } from './missing-values.js';
import { normalizePatchResult, type PatchResultLike } from './patch-result.js';
import { pearsonCorrelation } from './pearson-correlation.js';
import { VizInputError } from './viz-input-error.js';

/** One series of {@link attributionScatter}: plain numbers, or a patching result (its cells become the points). */
export type ScatterSeries = Float32Array | Float64Array | readonly number[] | PatchResultLike;

/** Options of {@link attributionScatter}. */
export interface AttributionScatterOptions {
  /** Title before the correlation, default `Attribution vs activation patching`. */
  readonly title?: string;
  /** x-axis title, default `activation patching (exact)`. */
  readonly xTitle?: string;
  /** y-axis title, default `attribution patching (approximation)`. */
  readonly yTitle?: string;
  /** One name per point for tooltips and the caption, default from the result's axes (`L3 H7`) or the index. */
  readonly labels?: readonly string[];
}

const POINT_PREFIX: Readonly<Record<string, string>> = { layer: 'L', head: 'H' };

function isPatchResultLike(series: ScatterSeries): series is PatchResultLike {
  return typeof series === 'object' && series !== null && 'shape' in series && 'axes' in series;
}

function readSeries(
  functionName: string,
  argumentName: string,
  series: ScatterSeries,
): { values: number[]; names?: string[]; shape?: readonly number[] } {
  if (isPatchResultLike(series)) {
    const { axes, cells } = normalizePatchResult(functionName, series);
    const names = cells.map((cell) =>
      cell.coordinates
        .map((coordinate, index) => {
          const axis = axes[index]!;
          if (axis.kind === 'category') return String(coordinate);
          const prefix = POINT_PREFIX[axis.name];
          return prefix !== undefined ? `${prefix}${coordinate}` : `${axis.name} ${coordinate}`;
        })
        .join(' '),
    );
    return { values: cells.map((cell) => cell.value), names, shape: series.shape };
  }
  if (Array.isArray(series) || series instanceof Float32Array || series instanceof Float64Array) {
    return { values: Array.from(series as ArrayLike<number>, Number) };
  }
  throw new VizInputError(
    `${functionName}: ${argumentName} must be a Float32Array, Float64Array, number[] or a PatchResultLike; got ${typeof series}.`,
  );
}

/**
 * Scatter of exact activation-patching values (x) against their attribution-patching
 * approximations (y), with the y = x line and the Pearson correlation in the title.
 * Pairs where either value is NaN are left out (and listed in the caption).
 *
 * @example
 * ```ts
 * import { attributionScatter } from '@patchlens/viz';
 * const figure = attributionScatter([0.1, 0.5, -0.2, 1.0], [0.3, 0.4, -0.1, 0.8]);
 * figure.title; // 'Attribution vs activation patching (Pearson r = 0.972, n = 4)'
 * ```
 * @param exact - the exact values (one activation-patching sweep).
 * @param approximate - the approximations, same length (and shape, for results).
 * @param options - see {@link AttributionScatterOptions}.
 * @throws VizInputError when the lengths or shapes differ, or both are empty.
 */
export function attributionScatter(
  exact: ScatterSeries,
  approximate: ScatterSeries,
  options: AttributionScatterOptions = {},
): Figure {
  const functionName = 'attributionScatter';
  const first = readSeries(functionName, 'exact', exact);
  const second = readSeries(functionName, 'approximate', approximate);
  if (first.values.length !== second.values.length) {
    throw new VizInputError(
      `${functionName}: exact has ${first.values.length} values but approximate has ${second.values.length}; pass one approximation per exact value.`,
    );
  }
  if (
    first.shape !== undefined &&
    second.shape !== undefined &&
    first.shape.join(',') !== second.shape.join(',')
  ) {
    throw new VizInputError(
      `${functionName}: exact has shape [${first.shape.join(', ')}] but approximate has shape [${second.shape.join(', ')}]; both must come from the same sweep.`,
    );
  }
  if (first.values.length === 0) {
    throw new VizInputError(
      `${functionName}: exact and approximate are empty; there is nothing to draw.`,
    );
  }
  const { labels } = options;
  if (labels !== undefined && labels.length !== first.values.length) {
    throw new VizInputError(
      `${functionName}: options.labels has ${labels.length} entries but there are ${first.values.length} points; give one label per point.`,
    );
  }
  const names =
    labels ?? first.names ?? second.names ?? first.values.map((_, index) => String(index));

  const correlation = pearsonCorrelation(first.values, second.values);
  const missing: string[] = [];
  const rows: Record<string, number | string>[] = [];
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  first.values.forEach((x, index) => {
    const y = second.values[index]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      missing.push(`${names[index]} (exact ${formatNumber(x)}, approximate ${formatNumber(y)})`);
      return;
    }
    low = Math.min(low, x, y);
    high = Math.max(high, x, y);
    rows.push({ label: names[index]!, exact: x, approximate: y });
  });
  if (rows.length === 0) {
    throw new VizInputError(
      `${functionName}: no pair of exact and approximate values is finite (${first.values.length} pairs); there is nothing to draw.`,
    );
  }
  if (low === high) {
    low -= 1;
    high += 1;
  }
  const pad = (high - low) * 0.05;
  const domain = [low - pad, high + pad];
  const correlationText = Number.isNaN(correlation)
    ? 'Pearson r undefined (constant values)'
    : `Pearson r = ${correlation.toFixed(3)}`;
  const baseTitle = options.title ?? 'Attribution vs activation patching';
  const title = `${baseTitle} (${correlationText}, n = ${rows.length})`;
  const xTitle = options.xTitle ?? 'activation patching (exact)';
  const yTitle = options.yTitle ?? 'attribution patching (approximation)';
  const tooltip = [
    { field: 'label', type: 'nominal' as const, title: 'point' },
    { field: 'exact', type: 'quantitative' as const, format: '.4~g', title: 'exact' },
    { field: 'approximate', type: 'quantitative' as const, format: '.4~g', title: 'approximate' },
  ];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    description: `${title}. x: ${xTitle}; y: ${yTitle}.`,
    width: 380,
    height: 380,
    layer: [
      {
        name: 'identity_line',
        data: {
          values: [
            { exact: domain[0], approximate: domain[0] },
            { exact: domain[1], approximate: domain[1] },
          ],
        },
        mark: { type: 'line', color: '#999', strokeDash: [4, 4], strokeWidth: 1 },
        encoding: {
          x: { field: 'exact', type: 'quantitative' },
          y: { field: 'approximate', type: 'quantitative' },
        },
      },
      {
        name: 'points',
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 36, opacity: 0.75, color: '#2166ac' },
        encoding: {
          x: {
            field: 'exact',
            type: 'quantitative',
            title: xTitle,
            scale: { domain, nice: false, zero: false },
          },
          y: {
            field: 'approximate',
            type: 'quantitative',
            title: yTitle,
            scale: { domain, nice: false, zero: false },
          },
          tooltip,
        },
      },
    ],
    config: { title: { fontSize: 14, anchor: 'start' }, axis: { titleFontSize: 12 } },
  };
  const caption = [
    `${rows.length} points: x = ${xTitle}, y = ${yTitle}; the dashed line is y = x. ${correlationText} over the points drawn.`,
    missingValuesSentence(missing, 'point', 'left out'),
  ]
    .filter((sentence) => sentence.length > 0)
    .join(' ');
  return createFigure({ kind: 'attributionScatter', title, caption, spec });
}
