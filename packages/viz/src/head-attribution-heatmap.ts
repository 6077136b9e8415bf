import { createFigure, type Figure } from './figure.js';
import { patchHeatmap } from './patch-heatmap.js';
import type { PatchResultLike } from './patch-result.js';
import { VizInputError } from './viz-input-error.js';

/**
 * Options of {@link headAttributionHeatmap}.
 *
 * @example
 * ```ts
 * const options: HeadAttributionHeatmapOptions = { valueLabel: 'logit diff (Mary − John)' };
 * ```
 */
export interface HeadAttributionHeatmapOptions {
  /** Title, default `Direct logit attribution per head`. */
  readonly title?: string;
  /** Colour legend title, default `logit difference`. */
  readonly valueLabel?: string;
}

/**
 * The per-head direct logit attribution `[layer, head]` as a heatmap (patchHeatmap's diverging
 * scale, white at 0): how much each head writes along the answer's unembedding direction.
 *
 * @param attribution - values `[nLayers * nHeads]` with `shape: [nLayers, nHeads]`, `axes: ['layer', 'head']`.
 * @param options - see {@link HeadAttributionHeatmapOptions}.
 * @throws VizInputError when the axes are not `['layer', 'head']`.
 * @example
 * ```ts
 * import { headAttributionHeatmap } from '@patchlens/viz';
 * const figure = headAttributionHeatmap({ values: [0.1, -0.4, 2.5, 0], shape: [2, 2], axes: ['layer', 'head'] });
 * ```
 */
export function headAttributionHeatmap(
  attribution: PatchResultLike,
  options: HeadAttributionHeatmapOptions = {},
): Figure {
  if (attribution.axes?.join(',') !== 'layer,head') {
    throw new VizInputError(
      `headAttributionHeatmap: attribution.axes must be ['layer', 'head'], got ${JSON.stringify(attribution.axes)}.`,
    );
  }
  const heatmap = patchHeatmap(attribution, {
    title: options.title ?? 'Direct logit attribution per head',
    valueLabel: options.valueLabel ?? 'logit difference',
  });
  // its own kind: a page can tell it from the patching heatmaps (another quantity, another scale)
  return createFigure({
    kind: 'headAttributionHeatmap',
    title: heatmap.title,
    caption: heatmap.caption,
    spec: heatmap.toSpec(),
  });
}
