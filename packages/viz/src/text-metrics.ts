import * as vega from 'vega';

/** Vega's text measurement hooks (exported by vega-scenegraph, missing from vega's typings). */
interface TextMetrics {
  width: (item: TextItem, text?: unknown) => number;
  estimateWidth: (item: TextItem, text?: unknown) => number;
}

// Advance widths of printable ASCII (32..126) in Helvetica/Arial, in 1/1000 em.
// prettier-ignore
const ASCII_WIDTHS = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
  556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
  611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
  667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
  222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/** Other fonts (DejaVu Sans on Linux, Segoe UI) run wider than Helvetica: leave room. */
const SAFETY = 1.12;

interface TextItem {
  text?: unknown;
  font?: string;
  fontSize?: number;
  fontWeight?: string | number;
}

/** Estimated width (px) of `text` in a sans-serif (or monospace) font of `fontSize` px. */
export function estimateTextWidthPx(
  text: string,
  fontSize: number,
  options: { monospace?: boolean; bold?: boolean } = {},
): number {
  let units = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    if (options.monospace) units += 602;
    else if (code >= 32 && code <= 126) units += ASCII_WIDTHS[code - 32]!;
    else if (code >= 0x1100 && (code <= 0x115f || (code >= 0x2e80 && code <= 0xffdc)))
      units += 1000;
    else units += 620;
  }
  const weight = options.bold ? 1.06 : 1;
  return (units / 1000) * fontSize * SAFETY * weight;
}

function itemWidth(item: TextItem, text?: unknown): number {
  const value = text ?? item.text;
  const content = Array.isArray(value)
    ? value.map(String).join('')
    : value == null
      ? ''
      : String(value);
  const fontSize = item.fontSize ?? 11;
  if (fontSize <= 0 || content.length === 0) return 0;
  const font = (item.font ?? '').toLowerCase();
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  return estimateTextWidthPx(content, fontSize, { monospace: font.includes('mono'), bold });
}

/**
 * Where Vega has no canvas to measure text (Node), it guesses 0.8 em per character, which
 * leaves wide gaps between rotated axis labels and the axis title. This swaps in a per-character
 * estimate (Vega supports a user-defined `textMetrics.width`, as vl-convert does). It changes
 * nothing where Vega measures with a canvas (browsers).
 */
export function useCharacterWidthEstimate(): void {
  const textMetrics = (vega as unknown as { textMetrics?: TextMetrics }).textMetrics;
  if (textMetrics !== undefined && textMetrics.width === textMetrics.estimateWidth) {
    textMetrics.width = itemWidth;
  }
}
