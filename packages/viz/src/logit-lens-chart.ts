import type { TopLevelSpec } from 'vega-lite';
import { formatNumber } from './color-scale.js';
import { createFigure, type Figure } from './figure.js';
import { missingValuesSentence } from './missing-values.js';
import { VizInputError } from './viz-input-error.js';

/**
 * Options of {@link logitLensChart}.
 *
 * @example
 * ```ts
 * const options: LogitLensChartOptions = { title: 'Logit lens', valueLabel: 'logit difference' };
 * ```
 */
export interface LogitLensChartOptions {
  /** Chart title, default `Logit lens`. */
  readonly title?: string;
  /** y-axis title, default `logit difference`. */
  readonly valueLabel?: string;
}

/**
 * A line chart of one value per depth of the residual stream (the logit lens): x = the stream's
 * labels in order (`0_pre`, `1_pre`, …, `final_post`), y = e.g. the logit difference there; one
 * line per series. NaN values are left out and listed in the caption.
 *
 * @param labels - one label per depth, in order.
 * @param series - the values (one per label), or several named series.
 * @param options - see {@link LogitLensChartOptions}.
 * @throws VizInputError when labels are empty or a series' length differs from the labels'.
 * @example
 * ```ts
 * import { logitLensChart } from '@patchlens/viz';
 * const figure = logitLensChart(['0_pre', '1_pre', 'final_post'], [0.1, 1.2, 3.4]);
 * const svg = await figure.toSVG();
 * ```
 */
export function logitLensChart(
  labels: readonly string[],
  series: readonly number[] | Float32Array | Readonly<Record<string, ArrayLike<number>>>,
  options: LogitLensChartOptions = {},
): Figure {
  const functionName = 'logitLensChart';
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new VizInputError(
      `${functionName}: labels must be a non-empty array of strings (one per depth), got ${JSON.stringify(labels)}.`,
    );
  }
  const named: Record<string, ArrayLike<number>> = Array.isArray(series) ||
  series instanceof Float32Array
    ? { value: series as ArrayLike<number> }
    : (series as Record<string, ArrayLike<number>>);
  const rows: { depth: string; order: number; series: string; value: number }[] = [];
  const missing: string[] = [];
  for (const [name, values] of Object.entries(named)) {
    if (values.length !== labels.length) {
      throw new VizInputError(
        `${functionName}: series "${name}" has ${values.length} values but there are ${labels.length} labels; give one value per label.`,
      );
    }
    labels.forEach((depth, order) => {
      const value = Number(values[order]);
      if (Number.isFinite(value)) rows.push({ depth, order, series: name, value });
      else missing.push(`${name} at ${depth} (${formatNumber(value)})`);
    });
  }
  const title = options.title ?? 'Logit lens';
  const valueLabel = options.valueLabel ?? 'logit difference';
  const several = Object.keys(named).length > 1;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    description: `${title}: ${valueLabel} by depth of the residual stream.`,
    width: Math.max(240, 36 * labels.length),
    height: 240,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'depth',
        type: 'ordinal',
        sort: [...labels],
        title: 'residual stream',
        axis: { labelAngle: -45 },
      },
      y: { field: 'value', type: 'quantitative', title: valueLabel },
      ...(several ? { color: { field: 'series', type: 'nominal', title: 'series' } } : {}),
      tooltip: [
        { field: 'depth', type: 'nominal', title: 'depth' },
        ...(several ? [{ field: 'series', type: 'nominal' as const, title: 'series' }] : []),
        { field: 'value', type: 'quantitative', format: '.4~g', title: valueLabel },
      ],
    },
    config: { title: { fontSize: 14, anchor: 'start' }, axis: { titleFontSize: 12 } },
  };
  const caption = [
    `${valueLabel} at each depth of the residual stream (${labels[0]} … ${labels[labels.length - 1]}), read through the final LayerNorm and the unembedding.`,
    missingValuesSentence(missing, 'point', 'left out'),
  ]
    .filter((sentence) => sentence.length > 0)
    .join(' ');
  return createFigure({ kind: 'logitLensChart', title, caption, spec });
}
