import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { useCharacterWidthEstimate } from './text-metrics.js';
import { createTooltipHandler } from './tooltip-handler.js';

/** Which function made a {@link Figure}. */
export type FigureKind =
  | 'patchHeatmap'
  | 'attentionPatterns'
  | 'coloredTokens'
  | 'attributionScatter'
  | 'logitLensChart'
  | 'headAttributionHeatmap';

/** Options of {@link Figure.mount}. */
export interface MountOptions {
  /** `'svg'` (default) or `'canvas'`. */
  readonly renderer?: 'svg' | 'canvas';
  /** Show the built-in hover tooltip (default true); false leaves vega's default (`title` attribute). */
  readonly tooltip?: boolean;
}

/**
 * A drawn figure: the same chart as a Vega-Lite spec, as static SVG (Node or browser), or as
 * an interactive vega View with tooltips in a page.
 *
 * @example
 * ```ts
 * const figure = patchHeatmap(result, { tokens });
 * const spec = figure.toSpec();        // Vega-Lite JSON, e.g. for vega-embed or Observable
 * const svg = await figure.toSVG();    // static SVG text, no DOM needed
 * await figure.mount(document.getElementById('plot')!); // browser, with tooltips
 * ```
 */
export interface Figure {
  /** Which function made the figure. */
  readonly kind: FigureKind;
  /** The figure's title. */
  readonly title: string;
  /** One paragraph describing what is drawn, including every cell that has no value (NaN). */
  readonly caption: string;
  /** A fresh copy of the Vega-Lite spec (data inline; NaN stored as null). */
  toSpec(): TopLevelSpec;
  /** Renders the figure to a standalone SVG document string, headless (no DOM, no canvas). */
  toSVG(): Promise<string>;
  /**
   * Renders the figure into `element` (browser) and resolves with the running vega View;
   * call `view.finalize()` to remove its listeners.
   */
  mount(element: HTMLElement, options?: MountOptions): Promise<View>;
}

/** Everything a {@link Figure} is made of. */
export interface FigureParts {
  readonly kind: FigureKind;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

class VegaLiteFigure implements Figure {
  readonly kind: FigureKind;
  readonly title: string;
  readonly caption: string;
  readonly #spec: TopLevelSpec;

  constructor(parts: FigureParts) {
    this.kind = parts.kind;
    this.title = parts.title;
    this.caption = parts.caption;
    this.#spec = parts.spec;
  }

  toSpec(): TopLevelSpec {
    return structuredClone(this.#spec);
  }

  async toSVG(): Promise<string> {
    useCharacterWidthEstimate();
    const view = new View(parse(compile(this.#spec).spec), { renderer: 'none' });
    try {
      return await view.toSVG();
    } finally {
      view.finalize();
    }
  }

  async mount(element: HTMLElement, options: MountOptions = {}): Promise<View> {
    const view = new View(parse(compile(this.#spec).spec), {
      renderer: options.renderer ?? 'svg',
      container: element,
      hover: true,
    });
    if (options.tooltip !== false) view.tooltip(createTooltipHandler(element.ownerDocument));
    return view.runAsync();
  }
}

/** Wraps a Vega-Lite spec with its title and caption as a {@link Figure}. */
export function createFigure(parts: FigureParts): Figure {
  return new VegaLiteFigure(parts);
}
