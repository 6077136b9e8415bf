import type { TopLevelSpec } from 'vega-lite';
import { ATTENTION_RANGE, formatNumber, NO_VALUE_COLOR } from './color-scale.js';
import { createFigure, type Figure } from './figure.js';
import { bandStep, clamp, labelFontSize, xLabelAngle } from './layout-sizing.js';
import { missingValuesSentence } from './missing-values.js';
import { DEFAULT_MAX_TOKEN_LENGTH, displayToken, tokenLabel } from './token-label.js';
import { VizInputError } from './viz-input-error.js';

/**
 * Attention patterns of one layer, `[head, dest, src]`: nested arrays (`pattern[h][d][s]`),
 * or flat row-major values with their shape (e.g. a `Float32Array` from `tensor.dataSync()`).
 */
export type AttentionPatternInput =
  | readonly (readonly (readonly number[] | Float32Array)[])[]
  | {
      readonly values: Float32Array | Float64Array | readonly number[];
      readonly shape: readonly number[];
    };

/** Options of {@link attentionPatterns}. */
export interface AttentionPatternsOptions {
  /** Heads drawn as small multiples, default all, in the order given. */
  readonly heads?: readonly number[];
  /** Head drawn large with tokens on both axes, default the first of `heads`. */
  readonly focusHead?: number;
  /** Layer the pattern comes from, used in titles (`L3H7`) when given. */
  readonly layer?: number;
  /** Figure title, default `Attention patterns` (with the layer when given). */
  readonly title?: string;
  /** Small multiples per row, default as many as fit in about 1400 px. */
  readonly columns?: number;
  /** Longest token text in an axis label, default 14 characters. */
  readonly maxTokenLength?: number;
}

function readPattern(
  functionName: string,
  pattern: AttentionPatternInput,
): { values: ArrayLike<number>; heads: number; positions: number } {
  if (typeof pattern === 'object' && pattern !== null && 'shape' in pattern) {
    const { values, shape } = pattern;
    if (shape.length !== 3) {
      throw new VizInputError(
        `${functionName}: pattern.shape must be [head, dest, src] (rank 3); got [${shape.join(', ')}]. For a cached [batch, head, dest, src] pattern, pass one batch entry.`,
      );
    }
    const [heads, dest, src] = shape as [number, number, number];
    if (dest !== src) {
      throw new VizInputError(
        `${functionName}: pattern.shape [${shape.join(', ')}] must have as many source as destination positions.`,
      );
    }
    if (values.length !== heads * dest * src) {
      throw new VizInputError(
        `${functionName}: pattern.values has ${values.length} entries but pattern.shape [${shape.join(', ')}] needs ${heads * dest * src}.`,
      );
    }
    return { values, heads, positions: dest };
  }
  if (!Array.isArray(pattern)) {
    throw new VizInputError(
      `${functionName}: pattern must be nested arrays [head][dest][src] or { values, shape: [head, dest, src] }; got ${typeof pattern}.`,
    );
  }
  const heads = pattern.length;
  const positions = heads > 0 ? (pattern[0]?.length ?? 0) : 0;
  const values = new Float64Array(heads * positions * positions);
  pattern.forEach((head, headIndex) => {
    if (!Array.isArray(head) || head.length !== positions) {
      throw new VizInputError(
        `${functionName}: pattern[${headIndex}] has ${Array.isArray(head) ? head.length : 'no'} rows; every head must be a ${positions} × ${positions} (dest × src) array.`,
      );
    }
    head.forEach((row: ArrayLike<number>, dest: number) => {
      if (row === null || typeof row !== 'object' || row.length !== positions) {
        throw new VizInputError(
          `${functionName}: pattern[${headIndex}][${dest}] has ${row?.length ?? 'no'} entries; every row must have ${positions} (one per source position).`,
        );
      }
      for (let src = 0; src < positions; src++) {
        values[(headIndex * positions + dest) * positions + src] = Number(row[src]);
      }
    });
  });
  return { values, heads, positions };
}

/**
 * Draws one layer's attention patterns, CircuitsVis style: a small heatmap per head and a
 * large one for `focusHead` with the tokens on both axes (destination/query down, source/key
 * across). Only the causal lower triangle (src <= dest) is drawn. The colour scale (white to
 * dark orange) spans [0, 1], widened when a value falls outside.
 *
 * @example
 * ```ts
 * import { attentionPatterns } from '@patchlens/viz';
 * const tokens = ['<|endoftext|>', 'When', ' Mary'];
 * const pattern = [[[1, 0, 0], [0.3, 0.7, 0], [0.2, 0.5, 0.3]]]; // [head, dest, src]
 * const figure = attentionPatterns(pattern, tokens, { layer: 0, focusHead: 0 });
 * const svg = await figure.toSVG();
 * ```
 * @param pattern - `[head, dest, src]` values, see {@link AttentionPatternInput}.
 * @param tokens - one token per position.
 * @param options - see {@link AttentionPatternsOptions}.
 * @throws VizInputError when `tokens.length` differs from the number of positions, a head is out of range, or the pattern is empty.
 * Limitations: one layer and one prompt per figure.
 */
export function attentionPatterns(
  pattern: AttentionPatternInput,
  tokens: readonly string[],
  options: AttentionPatternsOptions = {},
): Figure {
  const functionName = 'attentionPatterns';
  const { values, heads: headCount, positions } = readPattern(functionName, pattern);
  if (headCount === 0 || positions === 0) {
    throw new VizInputError(
      `${functionName}: the pattern is empty (${headCount} heads × ${positions} positions); there is nothing to draw.`,
    );
  }
  if (!Array.isArray(tokens) || tokens.length !== positions) {
    throw new VizInputError(
      `${functionName}: tokens has ${Array.isArray(tokens) ? tokens.length : 'no'} entries but the pattern has ${positions} positions; pass one token per position.`,
    );
  }
  const heads = options.heads ?? Array.from({ length: headCount }, (_, head) => head);
  if (heads.length === 0) {
    throw new VizInputError(`${functionName}: options.heads is empty; list at least one head.`);
  }
  const checkHead = (head: number, name: string) => {
    if (!Number.isInteger(head) || head < 0 || head >= headCount) {
      throw new VizInputError(
        `${functionName}: ${name} is ${head}; heads are integers from 0 to ${headCount - 1}.`,
      );
    }
  };
  heads.forEach((head, index) => {
    checkHead(head, `options.heads[${index}]`);
  });
  if (new Set(heads).size !== heads.length) {
    throw new VizInputError(
      `${functionName}: options.heads [${heads.join(', ')}] lists a head twice.`,
    );
  }
  const focusHead = options.focusHead ?? heads[0]!;
  checkHead(focusHead, 'options.focusHead');
  const maxTokenLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH;
  const { layer } = options;
  const headName = (head: number) => (layer !== undefined ? `L${layer}H${head}` : `head ${head}`);

  const labels = tokens.map((token, position) => tokenLabel(position, token, maxTokenLength));
  let low = 0;
  let high = 1;
  const missing: string[] = [];
  const rowsFor = (head: number) => {
    const rows: Record<string, number | string | null>[] = [];
    for (let dest = 0; dest < positions; dest++) {
      for (let src = 0; src <= dest; src++) {
        const value = Number(values[(head * positions + dest) * positions + src]);
        const finite = Number.isFinite(value);
        if (finite) {
          low = Math.min(low, value);
          high = Math.max(high, value);
        }
        rows.push({
          head,
          head_label: headName(head),
          dest_pos: dest,
          src_pos: src,
          dest_label: labels[dest]!,
          src_label: labels[src]!,
          dest_token: displayToken(tokens[dest]!),
          src_token: displayToken(tokens[src]!),
          value: finite ? value : null,
          valueText: formatNumber(value),
        });
      }
    }
    return rows;
  };
  const focusRows = rowsFor(focusHead);
  const smallRows = heads.flatMap((head) => (head === focusHead ? focusRows : rowsFor(head)));
  for (const row of smallRows) {
    if (row['value'] === null) {
      missing.push(
        `${row['head_label']}, dest ${row['dest_pos']} (${row['dest_token']}), src ${row['src_pos']} (${row['src_token']})`,
      );
    }
  }
  if (!heads.includes(focusHead)) {
    for (const row of focusRows) {
      if (row['value'] === null) {
        missing.push(
          `${row['head_label']}, dest ${row['dest_pos']} (${row['dest_token']}), src ${row['src_pos']} (${row['src_token']})`,
        );
      }
    }
  }

  const color = {
    condition: { test: '!isValid(datum.value)', value: NO_VALUE_COLOR },
    field: 'value',
    type: 'quantitative' as const,
    title: 'attention',
    scale: { domain: [low, high], range: [...ATTENTION_RANGE], interpolate: 'lab' as const },
  };
  const tooltip = [
    { field: 'head_label', type: 'nominal' as const, title: 'head' },
    { field: 'dest_pos', type: 'nominal' as const, title: 'dest_pos' },
    { field: 'dest_token', type: 'nominal' as const, title: 'dest_token' },
    { field: 'src_pos', type: 'nominal' as const, title: 'src_pos' },
    { field: 'src_token', type: 'nominal' as const, title: 'src_token' },
    { field: 'valueText', type: 'nominal' as const, title: 'attention' },
  ];
  const positionDomain = Array.from({ length: positions }, (_, position) => position);

  const smallStep = bandStep(positions, 150, 2, 10);
  const smallSize = smallStep * positions;
  const columns = options.columns ?? clamp(Math.floor(1400 / (smallSize + 24)), 1, heads.length);
  if (!Number.isInteger(columns) || columns < 1) {
    throw new VizInputError(
      `${functionName}: options.columns must be a positive integer; got ${columns}.`,
    );
  }
  const hiddenAxis = { labels: false, ticks: false, domain: false, title: null };
  const smallMultiples = {
    title: { text: 'Each head (destination down, source across)', fontSize: 12 },
    data: { values: smallRows },
    facet: {
      field: 'head_label',
      type: 'ordinal' as const,
      sort: heads.map(headName),
      header: { title: null, labelFontSize: 11, labelPadding: 3 },
    },
    columns,
    spec: {
      name: 'head_cells',
      width: smallSize,
      height: smallSize,
      // thumbnails: no per-cell ARIA label (keeps the SVG of 12 heads × 64 tokens small)
      mark: { type: 'rect' as const, invalid: 'show' as const, aria: false },
      encoding: {
        x: {
          field: 'src_pos',
          type: 'ordinal' as const,
          scale: { domain: positionDomain },
          axis: hiddenAxis,
        },
        y: {
          field: 'dest_pos',
          type: 'ordinal' as const,
          scale: { domain: positionDomain },
          axis: hiddenAxis,
        },
        color,
        tooltip,
      },
    },
    resolve: { scale: { x: 'independent' as const, y: 'independent' as const } },
  };

  const focusStep = bandStep(positions, 720, 10, 28);
  const fontSize = labelFontSize(focusStep);
  const focus = {
    name: 'focus_cells',
    title: { text: `${headName(focusHead)}`, fontSize: 13 },
    data: { values: focusRows },
    width: { step: focusStep },
    height: { step: focusStep },
    mark: { type: 'rect' as const, invalid: 'show' as const },
    encoding: {
      x: {
        field: 'src_label',
        type: 'ordinal' as const,
        title: 'source token (key)',
        scale: { domain: labels },
        axis: {
          labelAngle: xLabelAngle(labels, focusStep, fontSize),
          labelFontSize: fontSize,
          labelLimit: 140,
          labelOverlap: false,
          ticks: false,
        },
      },
      y: {
        field: 'dest_label',
        type: 'ordinal' as const,
        title: 'destination token (query)',
        scale: { domain: labels },
        axis: { labelFontSize: fontSize, labelLimit: 140, labelOverlap: false, ticks: false },
      },
      color,
      tooltip,
    },
  };

  const onlyFocus = heads.length === 1 && heads[0] === focusHead;
  const title =
    options.title ??
    (layer !== undefined ? `Attention patterns, layer ${layer}` : 'Attention patterns');
  const { title: _focusTitle, ...focusBody } = focus;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    // one head that is also the focus: drawn once, large, next to its legend
    ...(onlyFocus
      ? focusBody
      : { vconcat: [smallMultiples, focus], spacing: 28, resolve: { scale: { color: 'shared' } } }),
    title,
    description: `${title}: ${heads.length} heads, ${positions} positions, focus on ${headName(focusHead)}.`,
    config: {
      view: { stroke: '#ddd' },
      axis: { titleFontSize: 12, labelColor: '#222', domain: false },
      title: { fontSize: 15, anchor: 'start' },
    },
  };
  const triangle = (positions * (positions + 1)) / 2;
  const caption = [
    onlyFocus
      ? `Attention of ${headName(focusHead)} over ${positions} tokens (destination/query down, source/key across; only src <= dest is drawn, ${triangle} cells).`
      : `Attention of ${heads.length} head${heads.length === 1 ? '' : 's'} over ${positions} tokens (destination/query down, source/key across; only src <= dest is drawn, ${triangle} cells per head), and ${headName(focusHead)} enlarged.`,
    `Colour: attention weight from ${formatNumber(low)} (white) to ${formatNumber(high)} (dark).`,
    missingValuesSentence(missing),
  ]
    .filter((sentence) => sentence.length > 0)
    .join(' ');
  return createFigure({ kind: 'attentionPatterns', title, caption, spec });
}
