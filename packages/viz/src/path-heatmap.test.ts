import { describe, expect, it } from 'vitest';
import { pathHeatmap } from './path-heatmap.js';
import { assertWellFormedSvg, countMarkItems } from './test-support/svg-marks.js';
import { VizInputError } from './viz-input-error.js';

// biome-ignore lint/suspicious/noExplicitAny: test access into a JSON spec
type Json = any;

describe('pathHeatmap', () => {
  const panels = [
    { receiver: 'L1 H0 (q)', values: [0, -0.5, 0.25, -1.4, 0, 0, 0, 0], shape: [2, 4] as const },
    {
      receiver: 'logits',
      values: [-0.1, -0.2, -0.3, -0.4, 0.1, 0.2, 0.3, 0.4],
      shape: [2, 4] as const,
    },
  ];

  it('draws one panel per receiver, sender layers down and heads across, on the fixed -1..1 scale', async () => {
    const figure = pathHeatmap(panels);
    const spec = figure.toSpec() as Json;
    expect(spec.facet.sort).toEqual(['L1 H0 (q)', 'logits']);
    expect(spec.spec.encoding.y.title).toBe('layer');
    expect(spec.spec.encoding.x.title).toBe('head');
    expect(spec.spec.encoding.color.scale.domain).toEqual([-1, 1]);
    const rows = spec.data.values as Record<string, unknown>[];
    expect(rows).toHaveLength(16);
    // receiver "logits", layer 1, head 2 is its 7th value (0.3)
    expect(
      rows.find((row) => row.facet_label === 'logits' && row.layer === 1 && row.head === 2),
    ).toMatchObject({ value: expect.closeTo(0.3, 6) });
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'cells')).toBe(16);
    expect(svg).toContain('clipped'); // -1.4 lies outside the scale and is said to be clipped
  });

  it('refuses mixed shapes and empty input', () => {
    expect(() => pathHeatmap([])).toThrow(VizInputError);
    expect(() =>
      pathHeatmap([panels[0]!, { receiver: 'x', values: [1, 2], shape: [1, 2] }]),
    ).toThrow(/panel "x" has shape \[1,2\].*\[2, 4\]/);
  });
});
