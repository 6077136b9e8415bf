import { VizInputError } from './viz-input-error.js';

/**
 * Fill of cells whose value is NaN (or otherwise not finite): a mid grey, distinct from every
 * colour of the red-blue scale (whose middle is near-white).
 */
export const NO_VALUE_COLOR = '#9a9a9a';

/** Vega scheme of the diverging scale: red below the midpoint, blue above (as TransformerLens's RdBu plots). */
export const DIVERGING_SCHEME = 'redblue';

/** Colours of attention patterns: white at 0 to dark orange at 1. */
export const ATTENTION_RANGE: readonly string[] = ['#ffffff', '#a63603'];

/**
 * The one colour scale of normalised patching results (0 = the corrupted run, 1 = the clean run
 * restored): white at 0, red at -1, blue at +1, fixed so that every figure of normalised values
 * reads the same. Values beyond ±1 are drawn in the end colours and marked as clipped in the
 * tooltip, legend and caption. Spread it into the options of `patchHeatmap` or `coloredTokens`.
 *
 * @example
 * ```ts
 * patchHeatmap(normalizedResult, { tokens, valueLabel: 'restored', ...NORMALIZED_SCALE });
 * ```
 */
export const NORMALIZED_SCALE: Readonly<{ midpoint: number; colorLimit: number }> = Object.freeze({
  midpoint: 0,
  colorLimit: 1,
});

/**
 * The domain of a diverging colour scale centred on `midpoint`:
 * `[midpoint - limit, midpoint + limit]`, where `limit` defaults to the largest
 * `|value - midpoint|` among the finite values (1 when there is none or all equal the midpoint).
 */
export function symmetricDomain(
  functionName: string,
  values: Iterable<number>,
  midpoint: number,
  limit: number | undefined,
): [number, number] {
  if (!Number.isFinite(midpoint)) {
    throw new VizInputError(
      `${functionName}: options.midpoint must be a finite number; got ${midpoint}.`,
    );
  }
  if (limit !== undefined) {
    if (!Number.isFinite(limit) || limit <= 0) {
      throw new VizInputError(
        `${functionName}: options.colorLimit must be a positive finite number; got ${limit}.`,
      );
    }
    return [midpoint - limit, midpoint + limit];
  }
  let largest = 0;
  for (const value of values) {
    if (Number.isFinite(value)) largest = Math.max(largest, Math.abs(value - midpoint));
  }
  const radius = largest > 0 ? largest : 1;
  return [midpoint - radius, midpoint + radius];
}

/** Compact number text for captions and tooltips: 4 significant digits, no trailing zeros. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(4)));
}

/** Tooltip text of a value on the scale `[low, high]`: the number, plus a note when its colour is clipped. */
export function valueTextOnScale(value: number, low: number, high: number): string {
  const text = formatNumber(value);
  if (value > high) return `${text} (beyond the colour scale: drawn as ${formatNumber(high)})`;
  if (value < low) return `${text} (beyond the colour scale: drawn as ${formatNumber(low)})`;
  return text;
}

/** How many finite values lie outside `[low, high]`. */
export function countClipped(values: Iterable<number>, low: number, high: number): number {
  let count = 0;
  for (const value of values) if (Number.isFinite(value) && (value < low || value > high)) count++;
  return count;
}

/** Caption sentence about clipped values, '' when there are none. */
export function clippedSentence(count: number, low: number, high: number): string {
  if (count === 0) return '';
  return `${count} ${count === 1 ? 'value lies' : 'values lie'} outside ${formatNumber(low)} to ${formatNumber(high)} and ${count === 1 ? 'is' : 'are'} drawn in the end colour (clipped); the tooltip gives the exact value.`;
}
