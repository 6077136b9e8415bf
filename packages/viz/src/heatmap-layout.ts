import type { Axis } from './patch-result.js';
import { VizInputError } from './viz-input-error.js';

/** Axes whose coordinates are token positions (drawn on x, labelled with tokens). */
export const POSITION_AXES: readonly string[] = ['pos', 'dest_pos', 'src_pos'];

/**
 * Which axis of a result goes where in a heatmap. Each entry holds indices into the
 * result's axes; two indices in `y` or `facet` mean the axes are combined into one
 * (labels like `L3 H7`).
 */
export interface HeatmapLayout {
  readonly x: number;
  readonly y: readonly number[];
  readonly facet: readonly number[];
}

/**
 * Places a result's axes:
 * - x: `src_pos`, else `pos`, else `dest_pos`, else the last axis;
 * - a category axis (`activation` of the `*_every` results) makes one facet per category;
 * - of the other axes, one goes on y; with two, the first becomes the facet (`layer`) or,
 *   when the category axis already facets, the two combine on y (`L0 H0`, `L0 H1`, ...);
 * - with three (`[layer, head, dest_pos, src_pos]`), layer and head combine into the facet.
 */
export function resolveHeatmapLayout(functionName: string, axes: readonly Axis[]): HeatmapLayout {
  const names = `[${axes.map((axis) => axis.sourceName).join(', ')}]`;
  const categoryAxes = axes.flatMap((axis, index) => (axis.kind === 'category' ? [index] : []));
  if (categoryAxes.length > 1) {
    throw new VizInputError(
      `${functionName}: the result has ${categoryAxes.length} category axes in ${names}; at most one (such as "activation") can be drawn as facets.`,
    );
  }
  let panel: number | undefined = categoryAxes[0];
  const rest = axes.flatMap((axis, index) => (axis.kind === 'category' ? [] : [index]));
  if (rest.length === 0) {
    // a single category axis: draw it along x
    return { x: panel!, y: [], facet: [] };
  }
  const find = (name: string) => rest.find((index) => axes[index]!.name === name);
  const x = find('src_pos') ?? find('pos') ?? find('dest_pos') ?? rest[rest.length - 1]!;
  const others = rest.filter((index) => index !== x);
  const panelFacet = panel === undefined ? [] : [panel];
  switch (others.length) {
    case 0:
      return { x, y: [], facet: panelFacet };
    case 1:
      return { x, y: others, facet: panelFacet };
    case 2:
      if (panel !== undefined) return { x, y: others, facet: panelFacet };
      return { x, y: [others[1]!], facet: [others[0]!] };
    case 3:
      if (panel === undefined) return { x, y: [others[2]!], facet: [others[0]!, others[1]!] };
      panel = undefined;
      break;
  }
  throw new VizInputError(
    `${functionName}: cannot lay out a result with axes ${names}; heatmaps take up to 4 axes, e.g. [layer, pos], [layer, head], [layer, pos, head], [layer, head, dest_pos], [layer, head, dest_pos, src_pos], or an "activation" axis followed by two or three of these.`,
  );
}
