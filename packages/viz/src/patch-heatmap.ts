import type { TopLevelSpec } from 'vega-lite';
import {
  clippedSentence,
  countClipped,
  DIVERGING_SCHEME,
  formatNumber,
  NO_VALUE_COLOR,
  symmetricDomain,
  valueTextOnScale,
} from './color-scale.js';
import { createFigure, type Figure } from './figure.js';
import { POSITION_AXES, resolveHeatmapLayout } from './heatmap-layout.js';
import { bandStep, clamp, labelFontSize, xLabelAngle } from './layout-sizing.js';
import { missingValuesSentence } from './missing-values.js';
import { type Axis, normalizePatchResult, type PatchResultInput } from './patch-result.js';
import { DEFAULT_MAX_TOKEN_LENGTH, displayToken, tokenLabel } from './token-label.js';
import { VizInputError } from './viz-input-error.js';

/** Options of {@link patchHeatmap}. */
export interface PatchHeatmapOptions {
  /** The prompt's tokens (BOS included when the model saw it), one per position. Used for position axes. */
  readonly tokens?: readonly string[];
  /** Figure title; default names the result's axes. */
  readonly title?: string;
  /** A second title line in smaller type, e.g. what the values mean and the baselines. */
  readonly subtitle?: string;
  /** Centre of the diverging colour scale, default 0. For a normalised metric (0 = corrupted, 1 = clean), 0 keeps "no effect" white; 0.5 centres between the two. */
  readonly midpoint?: number;
  /** Half-width of the colour scale: it spans `[midpoint - colorLimit, midpoint + colorLimit]`. Default: the largest `|value - midpoint|`. Fix it to compare figures: spread `NORMALIZED_SCALE` for normalised results. Values beyond are clipped in colour (said in the tooltip, legend and caption). */
  readonly colorLimit?: number;
  /** Name of the value in the legend and tooltip, default `'value'` (e.g. `'logit diff'`). */
  readonly valueLabel?: string;
  /** Category labels per axis name; they override the result's own `labels`. */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
  /** Facets per row of small multiples; default: as many as fit in about 1500 px. */
  readonly columns?: number;
  /** Print each cell's value (2 decimals) inside it; only for single-panel heatmaps (default false). */
  readonly cellValues?: boolean;
  /** Longest token text in an axis label, default 14 characters (tooltips show the whole token). */
  readonly maxTokenLength?: number;
}

const AXIS_TITLES: Readonly<Record<string, string>> = {
  layer: 'layer',
  head: 'head',
  pos: 'position',
  dest_pos: 'destination position',
  src_pos: 'source position',
  activation: 'activation',
};

const COMBINED_PREFIX: Readonly<Record<string, string>> = { layer: 'L', head: 'H' };

const RESERVED_FIELDS = new Set([
  'value',
  'valueText',
  'cellText',
  'x_label',
  'y_label',
  'facet_label',
]);

function fieldName(axis: Axis): string {
  const name = axis.name.replace(/[^A-Za-z0-9_]/g, '_');
  return RESERVED_FIELDS.has(name) ? `${name}_axis` : name;
}

function tokenField(axis: Axis): string {
  return axis.name === 'pos' ? 'token' : `${axis.name.replace(/_pos$/, '')}_token`;
}

interface AxisLabeller {
  title: string;
  label(coordinate: number | string): string;
  /** Words for the caption: `layer 3`, `pos 5 (␣Mary)`. */
  words(coordinate: number | string): string;
}

/**
 * Draws a patching result as a heatmap on a diverging red-blue scale centred on `midpoint`,
 * layers (or heads) down, positions (labelled with the prompt's tokens) or heads across.
 *
 * Layouts by axes (`head_index` is read as `head`):
 * - `[layer, pos]` (resid/attn_out/mlp_out), `[layer, head]` (`*_all_pos`): one heatmap;
 * - `[layer, pos, head]` (`*_by_pos`), `[layer, head, dest_pos]` (pattern by pos): one panel per
 *   layer, heads down, positions across;
 * - `[layer, head, dest_pos, src_pos]`: one panel per head (`L0 H0`, ...), dest down, src across;
 * - a leading `activation` axis (`attn_head_all_pos_every` [5, layer, head], `block_every`
 *   [3, layer, pos], `attn_head_by_pos_every` [5, layer, pos, head], with `L0 H0`-style rows):
 *   one panel per activation.
 * All panels share one colour scale. Cells without a value (NaN) are grey and listed in the caption.
 *
 * @example
 * ```ts
 * import { patchHeatmap } from '@patchlens/viz';
 * const tokens = ['<|endoftext|>', 'When', ' John', ' and', ' Mary'];
 * const result = { values: new Float32Array(2 * 5).fill(0.5), shape: [2, 5], axes: ['layer', 'pos'] };
 * const figure = patchHeatmap(result, { tokens, title: 'resid_pre patching', valueLabel: 'logit diff' });
 * const svg = await figure.toSVG();
 * ```
 * @param result - a {@link PatchResultLike} or an arquero table (axis columns + `value`).
 * @param options - see {@link PatchHeatmapOptions}; `midpoint` defaults to 0.
 * @throws VizInputError when the result is empty or malformed, or `tokens.length` differs from the number of positions.
 * Limitations: at most 4 axes; large sweeps (say 5 × 12 × 12 × 64) make tall figures.
 */
export function patchHeatmap(result: PatchResultInput, options: PatchHeatmapOptions = {}): Figure {
  const functionName = 'patchHeatmap';
  const { tokens, midpoint = 0, colorLimit, valueLabel = 'value' } = options;
  const maxTokenLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH;
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1) {
    throw new VizInputError(
      `${functionName}: options.maxTokenLength must be a positive integer; got ${maxTokenLength}.`,
    );
  }
  const { axes, cells } = normalizePatchResult(functionName, result, options.labels);
  const layout = resolveHeatmapLayout(functionName, axes);

  if (tokens !== undefined) {
    if (!Array.isArray(tokens) || tokens.some((token) => typeof token !== 'string')) {
      throw new VizInputError(
        `${functionName}: options.tokens must be an array of strings (one per position); got ${typeof tokens}.`,
      );
    }
    for (const axis of axes) {
      if (axis.kind !== 'index' || !POSITION_AXES.includes(axis.name)) continue;
      const largest = Math.max(...(axis.domain as number[]));
      const fromTable = !('shape' in result);
      if (fromTable ? largest >= tokens.length : axis.domain.length !== tokens.length) {
        throw new VizInputError(
          `${functionName}: options.tokens has ${tokens.length} entries but the result's "${axis.sourceName}" axis has ${fromTable ? `position ${largest}` : `${axis.domain.length} positions`}; pass exactly one token per position of the (corrupted) prompt, BOS included if the model saw it.`,
        );
      }
    }
  }
  // with tokens, a table's position axes show every position of the prompt
  const displayAxes: Axis[] = axes.map((axis) =>
    tokens !== undefined && axis.kind === 'index' && POSITION_AXES.includes(axis.name)
      ? { ...axis, domain: tokens.map((_, index) => index) }
      : axis,
  );

  const labellers: AxisLabeller[] = displayAxes.map((axis) => {
    const title = AXIS_TITLES[axis.name] ?? axis.name;
    const isPosition = axis.kind === 'index' && POSITION_AXES.includes(axis.name);
    if (isPosition && tokens !== undefined) {
      return {
        title: axis.name === 'pos' ? 'token' : `${title} (token)`,
        label: (coordinate) =>
          tokenLabel(coordinate as number, tokens[coordinate as number]!, maxTokenLength),
        words: (coordinate) =>
          `${axis.name} ${coordinate} (${displayToken(tokens[coordinate as number]!)})`,
      };
    }
    return {
      title,
      label: (coordinate) => String(coordinate),
      words: (coordinate) =>
        axis.kind === 'category' ? String(coordinate) : `${axis.name} ${coordinate}`,
    };
  });

  const combinedLabel = (indices: readonly number[], coordinates: readonly (number | string)[]) => {
    if (indices.length === 1) return labellers[indices[0]!]!.label(coordinates[indices[0]!]!);
    return indices
      .map((index) => {
        const axis = displayAxes[index]!;
        const coordinate = coordinates[index]!;
        const prefix = COMBINED_PREFIX[axis.name];
        return prefix !== undefined ? `${prefix}${coordinate}` : `${axis.name}=${coordinate}`;
      })
      .join(' ');
  };
  const facetLabel = (coordinates: readonly (number | string)[]) => {
    if (layout.facet.length === 1) {
      const index = layout.facet[0]!;
      const axis = displayAxes[index]!;
      const coordinate = coordinates[index]!;
      return axis.kind === 'category'
        ? String(coordinate)
        : `${labellers[index]!.title} ${coordinate}`;
    }
    return combinedLabel(layout.facet, coordinates);
  };
  const domainOf = (indices: readonly number[]): (number | string)[][] => {
    // cartesian product of the axes' domains, first axis slowest
    let product: (number | string)[][] = [[]];
    for (const index of indices) {
      const next: (number | string)[][] = [];
      for (const prefix of product) {
        for (const coordinate of displayAxes[index]!.domain) next.push([...prefix, coordinate]);
      }
      product = next;
    }
    return product;
  };
  const sparseCoordinates = (indices: readonly number[]) =>
    domainOf(indices).map((combination) => {
      const coordinates: (number | string)[] = [];
      indices.forEach((axisIndex, i) => {
        coordinates[axisIndex] = combination[i]!;
      });
      return coordinates;
    });

  const xLabels = displayAxes[layout.x]!.domain.map((coordinate) =>
    labellers[layout.x]!.label(coordinate),
  );
  const yLabels =
    layout.y.length === 0
      ? []
      : sparseCoordinates(layout.y).map((coordinates) => combinedLabel(layout.y, coordinates));
  const facetLabels =
    layout.facet.length === 0 ? [] : sparseCoordinates(layout.facet).map(facetLabel);

  const values = cells.map((cell) => cell.value);
  const [low, high] = symmetricDomain(functionName, values, midpoint, colorLimit);
  const clipped = countClipped(values, low, high);
  const legendTitle = clipped > 0 ? `${valueLabel} (clipped)` : valueLabel;

  const missing: string[] = [];
  const rows = cells.map((cell) => {
    const row: Record<string, number | string | null> = {};
    displayAxes.forEach((axis, index) => {
      const coordinate = cell.coordinates[index]!;
      row[fieldName(axis)] = coordinate;
      if (tokens !== undefined && axis.kind === 'index' && POSITION_AXES.includes(axis.name)) {
        row[tokenField(axis)] = displayToken(tokens[coordinate as number]!);
      }
    });
    row['x_label'] = labellers[layout.x]!.label(cell.coordinates[layout.x]!);
    if (layout.y.length > 0) row['y_label'] = combinedLabel(layout.y, cell.coordinates);
    if (layout.facet.length > 0) row['facet_label'] = facetLabel(cell.coordinates);
    const finite = Number.isFinite(cell.value);
    row['value'] = finite ? cell.value : null;
    row['valueText'] = valueTextOnScale(cell.value, low, high);
    row['cellText'] = finite ? cell.value.toFixed(2).replace(/^-(0\.0+)$/, '$1') : '';
    if (!finite) {
      missing.push(
        displayAxes.map((_, index) => labellers[index]!.words(cell.coordinates[index]!)).join(', '),
      );
    }
    return row;
  });

  // sizes: cells shrink with their count but stay large enough for one line of label text
  const faceted = layout.facet.length > 0;
  // a small grid gets large cells: at least about 320 x 160 px in all (e.g. 4 heads x 2 layers)
  const xCount = xLabels.length;
  const yCount = Math.max(1, yLabels.length);
  const xStep = faceted
    ? bandStep(xCount, 640, 10, Math.max(32, Math.min(48, Math.floor(200 / xCount))))
    : bandStep(xCount, 1100, 10, Math.max(40, Math.min(80, Math.floor(320 / xCount))));
  const yStep = faceted
    ? bandStep(yCount, 240, 10, Math.max(24, Math.min(40, Math.floor(80 / yCount))))
    : bandStep(yCount, 480, 10, Math.max(32, Math.min(64, Math.floor(160 / yCount))));
  const xFontSize = labelFontSize(xStep);
  const yFontSize = labelFontSize(yStep);
  const angle = xLabelAngle(xLabels, xStep, xFontSize);

  const tooltip = [
    ...displayAxes.flatMap((axis) => {
      const isPosition = axis.kind === 'index' && POSITION_AXES.includes(axis.name);
      const own = { field: fieldName(axis), type: 'nominal' as const, title: axis.name };
      return isPosition && tokens !== undefined
        ? [own, { field: tokenField(axis), type: 'nominal' as const, title: tokenField(axis) }]
        : [own];
    }),
    { field: 'valueText', type: 'nominal' as const, title: valueLabel },
  ];
  const encoding = {
    x: {
      field: 'x_label',
      type: 'ordinal' as const,
      title: labellers[layout.x]!.title,
      scale: { domain: xLabels },
      axis: {
        labelAngle: angle,
        labelFontSize: xFontSize,
        labelLimit: 140,
        labelOverlap: false,
        ticks: false,
      },
    },
    ...(layout.y.length > 0
      ? {
          y: {
            field: 'y_label',
            type: 'ordinal' as const,
            title:
              layout.y.length === 1
                ? labellers[layout.y[0]!]!.title
                : layout.y.map((index) => labellers[index]!.title).join(', '),
            scale: { domain: yLabels },
            axis: { labelFontSize: yFontSize, labelOverlap: false, ticks: false },
          },
        }
      : {}),
    color: {
      condition: { test: '!isValid(datum.value)', value: NO_VALUE_COLOR },
      field: 'value',
      type: 'quantitative' as const,
      title: legendTitle,
      scale: { scheme: DIVERGING_SCHEME, domain: [low, high], domainMid: midpoint, clamp: true },
      legend: { gradientLength: clamp(Math.max(1, yLabels.length) * yStep, 120, 320) },
    },
    tooltip,
  };
  const unit = {
    name: 'cells',
    width: { step: xStep },
    height: layout.y.length > 0 ? { step: yStep } : yStep,
    mark: { type: 'rect' as const, invalid: 'show' as const },
    encoding,
  };
  // values printed in the cells: white on dark cells
  const strong = `abs(datum.value - ${midpoint}) > ${0.55 * (high - midpoint)}`;
  const withValues = {
    width: unit.width,
    height: unit.height,
    layer: [
      { name: unit.name, mark: unit.mark, encoding },
      {
        mark: { type: 'text' as const, fontSize: Math.min(12, labelFontSize(yStep) + 1) },
        encoding: {
          x: encoding.x,
          ...(layout.y.length > 0 ? { y: encoding.y } : {}),
          text: { field: 'cellText', type: 'nominal' as const },
          color: { condition: { test: strong, value: 'white' }, value: '#111' },
          tooltip,
        },
      },
    ],
  };

  const axisList = `[${axes.map((axis) => axis.sourceName).join(', ')}]`;
  const title = options.title ?? `Activation patching ${axisList}`;
  const titleSpec =
    options.subtitle === undefined ? title : { text: title, subtitle: options.subtitle };
  const columns =
    options.columns ??
    clamp(Math.floor(1500 / (xLabels.length * xStep + 90)), 1, Math.max(1, facetLabels.length));
  if (!Number.isInteger(columns) || columns < 1) {
    throw new VizInputError(
      `${functionName}: options.columns must be a positive integer; got ${columns}.`,
    );
  }
  const config = {
    view: { stroke: null },
    axis: { titleFontSize: 12, labelColor: '#222', domain: false },
    header: { labelFontSize: 12, labelFontWeight: 'bold' as const },
    legend: { titleFontSize: 11 },
    title: { fontSize: 15, anchor: 'start' as const, subtitleFontSize: 11, subtitleColor: '#444' },
  };
  const description = `${title}. Axes ${axisList}, ${cells.length} cells.`;
  const spec: TopLevelSpec = faceted
    ? {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: titleSpec,
        description,
        data: { values: rows },
        facet: {
          field: 'facet_label',
          type: 'ordinal',
          sort: facetLabels,
          header: { title: null },
        },
        columns,
        spec: unit,
        resolve: {
          scale: { color: 'shared', x: 'shared', y: 'shared' },
          // every panel gets its own x axis, so tokens are readable without scrolling
          axis: { x: 'independent' },
        },
        config,
      }
    : {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: titleSpec,
        description,
        data: { values: rows },
        ...(options.cellValues ? withValues : unit),
        config,
      };

  const placement = [
    `${labellers[layout.x]!.title} across`,
    ...(layout.y.length > 0
      ? [`${layout.y.map((index) => labellers[index]!.title).join(', ')} down`]
      : []),
    ...(faceted
      ? [
          `one panel per ${layout.facet.map((index) => labellers[index]!.title).join(', ')} (${facetLabels.length} panels)`,
        ]
      : []),
  ].join(', ');
  const caption = [
    `Axes ${axisList}: ${placement}; ${cells.length} cells.`,
    `Colour: ${valueLabel} on a red-blue scale centred on ${formatNumber(midpoint)} (red below, blue above), from ${formatNumber(low)} to ${formatNumber(high)}${faceted ? ', shared by all panels' : ''}.`,
    clippedSentence(clipped, low, high),
    missingValuesSentence(missing),
  ]
    .filter((sentence) => sentence.length > 0)
    .join(' ');
  return createFigure({ kind: 'patchHeatmap', title, caption, spec });
}
