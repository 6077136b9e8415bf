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
import { missingValuesSentence } from './missing-values.js';
import { displayToken, truncateLabel } from './token-label.js';
import { VizInputError } from './viz-input-error.js';

/** Options of {@link coloredTokens}. */
export interface ColoredTokensOptions {
  /** Figure title, default `Tokens`. */
  readonly title?: string;
  /** Centre of the diverging colour scale, default 0. */
  readonly midpoint?: number;
  /** Half-width of the colour scale, default the largest `|value - midpoint|`. */
  readonly colorLimit?: number;
  /** Name of the value in the legend and tooltip, default `'value'`. */
  readonly valueLabel?: string;
  /** Width (px) at which the token line wraps, default 880. */
  readonly width?: number;
  /** Longest token text in a box, default 24 characters (tooltips show the whole token). */
  readonly maxTokenLength?: number;
}

const FONT_SIZE = 13;
const CHARACTER_WIDTH = 8; // monospace, 13 px
const BOX_PADDING = 8;
const BOX_GAP = 3;
const LINE_HEIGHT = 26;

/**
 * Draws the prompt's tokens as a line of text, each on a box shaded by its value
 * (red-blue, centred on `midpoint`), wrapping like a paragraph (CircuitsVis `colored_tokens`).
 *
 * @example
 * ```ts
 * import { coloredTokens } from '@patchlens/viz';
 * const figure = coloredTokens(['When', ' John', ' and', ' Mary'], [0.1, -0.8, 0, 1.2], {
 *   valueLabel: 'logit diff',
 * });
 * const svg = await figure.toSVG();
 * ```
 * @param tokens - the tokens, in order.
 * @param values - one number per token (NaN for none: drawn grey).
 * @param options - see {@link ColoredTokensOptions}; `midpoint` defaults to 0.
 * @throws VizInputError when `values.length !== tokens.length` or there are no tokens.
 */
export function coloredTokens(
  tokens: readonly string[],
  values: Float32Array | Float64Array | readonly number[],
  options: ColoredTokensOptions = {},
): Figure {
  const functionName = 'coloredTokens';
  if (!Array.isArray(tokens) || tokens.some((token) => typeof token !== 'string')) {
    throw new VizInputError(
      `${functionName}: tokens must be an array of strings; got ${typeof tokens}.`,
    );
  }
  if (
    !Array.isArray(values) &&
    !(values instanceof Float32Array) &&
    !(values instanceof Float64Array)
  ) {
    throw new VizInputError(
      `${functionName}: values must be a Float32Array, Float64Array or number[]; got ${typeof values}.`,
    );
  }
  if (values.length !== tokens.length) {
    throw new VizInputError(
      `${functionName}: tokens has ${tokens.length} entries but values has ${values.length}; pass one value per token.`,
    );
  }
  if (tokens.length === 0) {
    throw new VizInputError(`${functionName}: tokens is empty; there is nothing to draw.`);
  }
  const { midpoint = 0, colorLimit, valueLabel = 'value', width = 880 } = options;
  const maxTokenLength = options.maxTokenLength ?? 24;
  if (!Number.isFinite(width) || width < 100) {
    throw new VizInputError(
      `${functionName}: options.width must be at least 100 (px); got ${width}.`,
    );
  }
  const numbers = Array.from(values, Number);
  const [low, high] = symmetricDomain(functionName, numbers, midpoint, colorLimit);

  // flow layout: boxes left to right, wrapping at `width`
  let x = 0;
  let line = 0;
  let usedWidth = 0;
  const missing: string[] = [];
  const rows = tokens.map((token, position) => {
    const text = truncateLabel(displayToken(token), maxTokenLength);
    const boxWidth = Math.max(18, Array.from(text).length * CHARACTER_WIDTH + BOX_PADDING);
    if (x > 0 && x + boxWidth > width) {
      x = 0;
      line += 1;
    }
    const value = numbers[position]!;
    const finite = Number.isFinite(value);
    if (!finite) missing.push(`pos ${position} (${displayToken(token)})`);
    const row = {
      pos: position,
      token: displayToken(token),
      text,
      x,
      x2: x + boxWidth,
      x_mid: x + boxWidth / 2,
      y: line * LINE_HEIGHT,
      y2: line * LINE_HEIGHT + LINE_HEIGHT - 4,
      y_mid: line * LINE_HEIGHT + (LINE_HEIGHT - 4) / 2,
      value: finite ? value : null,
      // dark boxes get white text
      strong: finite && Math.abs(value - midpoint) > 0.6 * (high - midpoint),
      valueText: valueTextOnScale(value, low, high),
    };
    x += boxWidth + BOX_GAP;
    usedWidth = Math.max(usedWidth, row.x2);
    return row;
  });
  const height = (line + 1) * LINE_HEIGHT;
  const tooltip = [
    { field: 'pos', type: 'nominal' as const },
    { field: 'token', type: 'nominal' as const },
    { field: 'valueText', type: 'nominal' as const, title: valueLabel },
  ];
  const pixels = (field: string) => ({
    field,
    type: 'quantitative' as const,
    scale: null,
    axis: null,
  });
  const title = options.title ?? 'Tokens';
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    description: `${title}: ${tokens.length} tokens shaded by ${valueLabel}.`,
    data: { values: rows },
    width: usedWidth,
    height,
    layer: [
      {
        name: 'token_boxes',
        mark: { type: 'rect', invalid: 'show', cornerRadius: 3 },
        encoding: {
          x: pixels('x'),
          x2: { field: 'x2' },
          y: pixels('y'),
          y2: { field: 'y2' },
          color: {
            condition: { test: '!isValid(datum.value)', value: NO_VALUE_COLOR },
            field: 'value',
            type: 'quantitative',
            title: valueLabel,
            scale: {
              scheme: DIVERGING_SCHEME,
              domain: [low, high],
              domainMid: midpoint,
              clamp: true,
            },
          },
          tooltip,
        },
      },
      {
        name: 'token_text',
        mark: {
          type: 'text',
          font: 'monospace',
          fontSize: FONT_SIZE,
          baseline: 'middle',
          align: 'center',
        },
        encoding: {
          x: pixels('x_mid'),
          y: pixels('y_mid'),
          text: { field: 'text' },
          color: { condition: { test: 'datum.strong', value: 'white' }, value: '#111' },
          tooltip,
        },
      },
    ],
    config: { view: { stroke: null }, title: { fontSize: 15, anchor: 'start' } },
  };
  const caption = [
    `${tokens.length} tokens, each shaded by ${valueLabel} on a red-blue scale centred on ${formatNumber(midpoint)} (red below, blue above), from ${formatNumber(low)} to ${formatNumber(high)}.`,
    clippedSentence(countClipped(numbers, low, high), low, high),
    missingValuesSentence(missing),
  ]
    .filter((sentence) => sentence.length > 0)
    .join(' ');
  return createFigure({ kind: 'coloredTokens', title, caption, spec });
}
