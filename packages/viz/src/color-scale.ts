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
