import { describe, expect, it } from 'vitest';
import { headAttributionHeatmap } from './head-attribution-heatmap.js';
import { logitLensChart } from './logit-lens-chart.js';
import { assertWellFormedSvg, countMarkItems } from './test-support/svg-marks.js';
import { VizInputError } from './viz-input-error.js';

// biome-ignore lint/suspicious/noExplicitAny: test access into a JSON spec
type Json = any;

describe('logitLensChart', () => {
  const labels = ['0_pre', '1_pre', '2_pre', 'final_post'];

  it('one point per depth in the given order; NaN left out and named in the caption; renders to SVG', async () => {
    const figure = logitLensChart(labels, [0.1, Number.NaN, 1.5, 3.25], { title: 'IOI lens' });
    const spec: Json = figure.toSpec();
    expect(spec.data.values.map((row: Json) => [row.depth, row.value])).toEqual([
      ['0_pre', 0.1],
      ['2_pre', 1.5],
      ['final_post', 3.25],
    ]);
    expect(spec.encoding.x.sort).toEqual(labels);
    expect(figure.title).toBe('IOI lens');
    expect(figure.caption).toMatch(/1 point has no value .*value at 1_pre/);
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(svg).toContain('final_post');
  });

  it('several named series get a colour each; mismatched lengths are rejected', () => {
    const spec: Json = logitLensChart(labels, { mary: [0, 1, 2, 3], john: [0, 0, 1, 1] }).toSpec();
    expect(spec.encoding.color.field).toBe('series');
    expect(spec.data.values).toHaveLength(8);
    expect(() => logitLensChart(labels, [1, 2])).toThrow(VizInputError);
    expect(() => logitLensChart(labels, [1, 2])).toThrow(/has 2 values but there are 4 labels/);
    expect(() => logitLensChart([], [])).toThrow(/labels must be a non-empty array/);
  });
});

describe('headAttributionHeatmap', () => {
  it('draws one cell per [layer, head] and rejects other axes', async () => {
    const figure = headAttributionHeatmap({
      values: [0.5, -1, 0, 2, 0.25, -0.5],
      shape: [2, 3],
      axes: ['layer', 'head'],
    });
    expect(figure.title).toMatch(/Direct logit attribution per head/);
    expect(figure.kind).toBe('headAttributionHeatmap');
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'cells')).toBe(6);
    expect(() =>
      headAttributionHeatmap({ values: [1, 2], shape: [1, 2], axes: ['layer', 'pos'] }),
    ).toThrow(/axes must be \['layer', 'head'\]/);
  });
});
