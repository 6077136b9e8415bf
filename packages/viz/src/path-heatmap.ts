import { NORMALIZED_SCALE } from './color-scale.js';
import type { Figure } from './figure.js';
import { patchHeatmap } from './patch-heatmap.js';
import { VizInputError } from './viz-input-error.js';

/**
 * One receiver's path-patching result: every head as a sender, `[layer, head]`.
 *
 * @example
 * ```ts
 * const panel: PathHeatmapPanel = { receiver: 'L1 H0 (q)', values: [0, -0.2, 0, 0], shape: [2, 2] };
 * ```
 */
export interface PathHeatmapPanel {
  /** The receiver's name, e.g. `L9 H9 (q)` or `logits`. */
  readonly receiver: string;
  /** Normalised path effects, `[layer, head]` row-major (0 = no effect, -1 = the whole corruption). */
  readonly values: ArrayLike<number>;
  /** `[nLayers, nHeads]` of the senders. */
  readonly shape: readonly [number, number];
}

/** Options of {@link pathHeatmap}. */
export interface PathHeatmapOptions {
  /** Figure title (default: "Path patching: sender heads × receivers"). */
  readonly title?: string;
  /** A second title line, e.g. the baselines. */
  readonly subtitle?: string;
}

/**
 * Sender × receiver heatmap of path patching: one panel per receiver, sender layers down and
 * sender heads across, on the fixed normalised scale (−1…1, values beyond clipped and said so).
 *
 * @param panels - one {@link PathHeatmapPanel} per receiver, all with the same shape.
 * @throws VizInputError for no panels, mixed shapes, or values that do not fit the shape.
 * @example
 * ```ts
 * const figure = pathHeatmap([{ receiver: 'logits', values: result.normalized.values, shape: [2, 4] }]);
 * const svg = await figure.toSVG();
 * ```
 */
export function pathHeatmap(
  panels: readonly PathHeatmapPanel[],
  options: PathHeatmapOptions = {},
): Figure {
  const first = panels[0];
  if (first === undefined) {
    throw new VizInputError(
      'pathHeatmap: no panels; give one { receiver, values, shape } per receiver.',
    );
  }
  const [layers, heads] = first.shape;
  for (const panel of panels) {
    if (
      panel.shape[0] !== layers ||
      panel.shape[1] !== heads ||
      panel.values.length !== layers * heads
    ) {
      throw new VizInputError(
        `pathHeatmap: panel "${panel.receiver}" has shape [${panel.shape}] and ${panel.values.length} values; every panel needs shape [${layers}, ${heads}] (the senders) and ${layers * heads} values.`,
      );
    }
  }
  const values = new Float32Array(panels.length * layers * heads);
  for (const [index, panel] of panels.entries()) {
    values.set(Array.from(panel.values), index * layers * heads); // [receiver, layer, head]
  }
  return patchHeatmap(
    {
      values,
      shape: [panels.length, layers, heads],
      axes: ['receiver', 'layer', 'head'],
      labels: { receiver: panels.map((panel) => panel.receiver) },
    },
    {
      title: options.title ?? 'Path patching: sender heads × receivers',
      subtitle:
        options.subtitle ??
        '(path-patched - clean) / (clean - corrupted): 0 = the path changes nothing, -1 = as much as the whole corruption',
      valueLabel: 'path effect',
      cellValues: panels.length === 1 && layers * heads <= 100,
      ...NORMALIZED_SCALE,
    },
  );
}
