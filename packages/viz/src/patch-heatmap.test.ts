import { table } from 'arquero';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NO_VALUE_COLOR, NORMALIZED_SCALE } from './color-scale.js';
import { patchHeatmap } from './patch-heatmap.js';
import type { PatchResultLike } from './patch-result.js';
import { IOI_TOKENS, longTokens, patternValue, syntheticResult } from './test-support/fixtures.js';
import { assertWellFormedSvg, countMarkItems } from './test-support/svg-marks.js';
import { VizInputError } from './viz-input-error.js';

// The spec is plain JSON; these helpers read the parts the tests check without the spec types.
// biome-ignore lint/suspicious/noExplicitAny: test access into a JSON spec
type Json = any;
const specOf = (figure: { toSpec(): unknown }): Json => figure.toSpec();
const rowsOf = (spec: Json): Record<string, unknown>[] => spec.data.values;

/** Largest |v - midpoint| over finite values, computed directly from the input. */
function expectedRadius(values: ArrayLike<number>, midpoint: number): number {
  let radius = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (Number.isFinite(value)) radius = Math.max(radius, Math.abs(value - midpoint));
  }
  return radius;
}

const warnings: unknown[][] = [];
afterEach(() => {
  vi.restoreAllMocks();
  warnings.length = 0;
});
function captureWarnings() {
  vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    warnings.push(args);
  });
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    warnings.push(args);
  });
}

describe('patchHeatmap [layer, pos]', () => {
  const L = 3;
  const P = IOI_TOKENS.length;
  const result = syntheticResult(['layer', 'pos'], [L, P], { nanAt: [4, 20] });

  it('has one data row per cell, in row-major order, with token labels on x', () => {
    const spec = specOf(patchHeatmap(result, { tokens: IOI_TOKENS }));
    const rows = rowsOf(spec);
    expect(rows).toHaveLength(L * P);
    for (let layer = 0; layer < L; layer++) {
      for (let pos = 0; pos < P; pos++) {
        const row = rows.find((r) => r['layer'] === layer && r['pos'] === pos)!;
        const flat = layer * P + pos;
        const expected = flat === 4 || flat === 20 ? null : Math.fround(patternValue(flat));
        expect(row['value']).toBe(expected);
        expect(row['token']).toBe(IOI_TOKENS[pos]!.replace(/^ /, '␣'));
      }
    }
    const x = spec.encoding.x;
    expect(x.scale.domain).toHaveLength(P);
    expect(x.scale.domain[0]).toBe('0: <|endoftext|>');
    expect(x.scale.domain[4]).toBe('4: ␣Mary');
    // the two " John"s stay distinct
    expect(x.scale.domain[2]).toBe('2: ␣John');
    expect(x.scale.domain[10]).toBe('10: ␣John');
    expect(x.title).toBe('token');
    expect(spec.encoding.y.scale.domain).toEqual(['0', '1', '2']);
    expect(spec.encoding.y.title).toBe('layer');
  });

  it('centres the colour scale on 0 by default, spanning the largest deviation', () => {
    const spec = specOf(patchHeatmap(result, { tokens: IOI_TOKENS }));
    const [low, high] = spec.encoding.color.scale.domain;
    const radius = expectedRadius(result.values, 0);
    expect(high).toBeCloseTo(radius, 6);
    expect(low).toBeCloseTo(-radius, 6);
    expect(spec.encoding.color.scale.domainMid).toBe(0);
    expect(spec.encoding.color.scale.scheme).toBe('redblue');
  });

  it('centres on a given midpoint, and honours a fixed colour limit', () => {
    const centred = specOf(patchHeatmap(result, { midpoint: 0.5 }));
    const [low, high] = centred.encoding.color.scale.domain;
    expect((low + high) / 2).toBeCloseTo(0.5, 9);
    expect(high - 0.5).toBeCloseTo(expectedRadius(result.values, 0.5), 6);
    const fixed = specOf(patchHeatmap(result, { midpoint: 0.5, colorLimit: 1 }));
    expect(fixed.encoding.color.scale.domain).toEqual([-0.5, 1.5]);
  });

  it('draws normalised results on the fixed -1..1 scale, marking clipped values', async () => {
    const values = new Float32Array([0.2, 1.03, -0.01, -1.5, 0.43, 0]);
    const normalized = { values, shape: [2, 3], axes: ['layer', 'pos'] };
    const figure = patchHeatmap(normalized, {
      ...NORMALIZED_SCALE,
      valueLabel: 'restored',
      subtitle: 'clean 3.2, corrupted -11.6',
    });
    const spec = specOf(figure);
    // the scale does not follow the data: 1.03 and -1.5 lie beyond it
    expect(spec.encoding.color.scale.domain).toEqual([-1, 1]);
    expect(spec.encoding.color.scale.domainMid).toBe(0);
    expect(spec.encoding.color.scale.clamp).toBe(true);
    expect(spec.encoding.color.title).toBe('restored (clipped)');
    const texts = rowsOf(spec).map((row) => row['valueText']);
    expect(texts[1]).toBe('1.03 (beyond the colour scale: drawn as 1)');
    expect(texts[3]).toBe('-1.5 (beyond the colour scale: drawn as -1)');
    expect(texts[0]).toBe('0.2');
    expect(figure.caption).toContain('2 values lie outside -1 to 1');
    expect(spec.title).toEqual({ text: figure.title, subtitle: 'clean 3.2, corrupted -11.6' });
    // two figures of different ranges share one scale
    const small = specOf(
      patchHeatmap({ ...normalized, values: values.map((v) => v / 10) }, NORMALIZED_SCALE),
    );
    expect(small.encoding.color.scale.domain).toEqual([-1, 1]);
    expect(small.encoding.color.title).toBe('value');
    assertWellFormedSvg(await figure.toSVG());
  });

  it('prints cell values on request, white on dark cells, never "-0.00"', async () => {
    const heads = {
      values: new Float32Array([0.9, -0.001, 0.2, -0.8]),
      shape: [2, 2],
      axes: ['layer', 'head_index'],
    };
    const figure = patchHeatmap(heads, { ...NORMALIZED_SCALE, cellValues: true });
    const spec = specOf(figure);
    expect(rowsOf(spec).map((row) => row['cellText'])).toEqual(['0.90', '0.00', '0.20', '-0.80']);
    const [cells, text] = spec.layer;
    expect(cells.mark.type).toBe('rect');
    expect(text.mark.type).toBe('text');
    expect(text.encoding.color.condition.test).toBe('abs(datum.value - 0) > 0.55');
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    for (const value of ['0.90', '0.00', '0.20', '-0.80']) expect(svg).toContain(`>${value}<`);
  });

  it('gives a small grid readable cells (at least about 320 x 160 px)', () => {
    const heads = { values: new Float32Array(8), shape: [2, 4], axes: ['layer', 'head_index'] };
    const spec = specOf(patchHeatmap(heads));
    expect(4 * spec.width.step).toBeGreaterThanOrEqual(300);
    expect(2 * spec.height.step).toBeGreaterThanOrEqual(120);
  });

  it('lists NaN cells in the caption and draws them grey in the SVG', async () => {
    const figure = patchHeatmap(result, { tokens: IOI_TOKENS });
    expect(figure.caption).toContain('2 cells have no value');
    expect(figure.caption).toContain('layer 0, pos 4 (␣Mary)');
    expect(figure.caption).toContain(`layer 1, pos 5 (${'␣went'})`);
    captureWarnings();
    const svg = await figure.toSVG();
    expect(warnings).toEqual([]);
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'cells')).toBe(L * P);
    const greyCells = svg.match(
      new RegExp(`aria-roledescription="rect mark"[^>]*fill="${NO_VALUE_COLOR}"`, 'g'),
    );
    expect(greyCells).toHaveLength(2);
  });

  it('keeps positions in numeric order past 9 without tokens', () => {
    const spec = specOf(patchHeatmap(syntheticResult(['layer', 'pos'], [1, 12])));
    expect(spec.encoding.x.scale.domain).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(spec.encoding.x.title).toBe('position');
  });

  it('sizes cells by count and rotates long token labels for 64 positions', () => {
    const tokens = longTokens(64);
    const spec = specOf(patchHeatmap(syntheticResult(['layer', 'pos'], [12, 64]), { tokens }));
    expect(spec.width.step).toBeGreaterThanOrEqual(12);
    expect(spec.width.step * 64).toBeLessThanOrEqual(1200);
    expect(spec.encoding.x.axis.labelAngle).toBe(-90);
    const longest = Math.max(
      ...spec.encoding.x.scale.domain.map((label: string) => Array.from(label).length),
    );
    expect(longest).toBeLessThanOrEqual('63: '.length + 14);
    expect(spec.encoding.x.scale.domain).toContain('10: ␣extraordinar…');
    // the tooltip keeps the whole token
    expect(rowsOf(spec).find((row) => row['pos'] === 10)!['token']).toBe('␣extraordinarily');
  });
});

describe('patchHeatmap layouts', () => {
  it('[layer, head] (head_index) puts heads across and layers down', async () => {
    const result = syntheticResult(['layer', 'head_index'], [12, 12]);
    const figure = patchHeatmap(result);
    const spec = specOf(figure);
    expect(rowsOf(spec)).toHaveLength(144);
    expect(spec.encoding.x.title).toBe('head');
    expect(spec.encoding.x.scale.domain).toHaveLength(12);
    expect(spec.encoding.y.title).toBe('layer');
    expect(spec.encoding.x.axis.labelAngle).toBe(0);
    expect(rowsOf(spec)[13]).toMatchObject({ layer: 1, head: 1 });
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'cells')).toBe(144);
  });

  it('[layer, pos, head] makes one panel per layer with heads down and tokens across', async () => {
    const tokens = IOI_TOKENS.slice(0, 6);
    const figure = patchHeatmap(syntheticResult(['layer', 'pos', 'head'], [3, 6, 4]), { tokens });
    const spec = specOf(figure);
    expect(rowsOf(spec)).toHaveLength(3 * 6 * 4);
    expect(spec.facet.field).toBe('facet_label');
    expect(spec.facet.sort).toEqual(['layer 0', 'layer 1', 'layer 2']);
    expect(spec.spec.encoding.x.scale.domain[2]).toBe('2: ␣John');
    expect(spec.spec.encoding.y.title).toBe('head');
    expect(spec.resolve.scale.color).toBe('shared');
    const svg = await figure.toSVG();
    expect(countMarkItems(svg, 'cells')).toBe(72);
  });

  it('[layer, head_index, dest_pos] (pattern by pos) puts dest positions across', () => {
    const tokens = IOI_TOKENS.slice(0, 5);
    const spec = specOf(
      patchHeatmap(syntheticResult(['layer', 'head_index', 'dest_pos'], [2, 3, 5]), { tokens }),
    );
    expect(rowsOf(spec)).toHaveLength(30);
    expect(spec.spec.encoding.x.title).toBe('destination position (token)');
    expect(spec.spec.encoding.y.title).toBe('head');
    expect(rowsOf(spec)[0]).toMatchObject({
      layer: 0,
      head: 0,
      dest_pos: 0,
      dest_token: '<|endoftext|>',
    });
  });

  it('attn_head_all_pos_every [5, layer, head]: five panels with one shared colour scale', async () => {
    const result = syntheticResult(['activation', 'layer', 'head'], [5, 4, 3]);
    const figure = patchHeatmap(result);
    const spec = specOf(figure);
    expect(rowsOf(spec)).toHaveLength(60);
    expect(spec.facet.sort).toEqual(['output', 'query', 'key', 'value', 'pattern']);
    expect(spec.resolve.scale.color).toBe('shared');
    const radius = expectedRadius(result.values, 0);
    expect(spec.spec.encoding.color.scale.domain[1]).toBeCloseTo(radius, 6);
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'cells')).toBe(60);
    // one legend for all panels
    expect(svg.match(/aria-roledescription="legend"/g)).toHaveLength(1);
  });

  it('block_every [3, layer, pos]: three labelled panels', () => {
    const tokens = IOI_TOKENS.slice(0, 4);
    const spec = specOf(
      patchHeatmap(syntheticResult(['activation', 'layer', 'pos'], [3, 2, 4]), { tokens }),
    );
    expect(spec.facet.sort).toEqual(['resid_pre', 'attn_out', 'mlp_out']);
    expect(rowsOf(spec)).toHaveLength(24);
    expect(rowsOf(spec)[8]).toMatchObject({ activation: 'attn_out', layer: 0, pos: 0 });
  });

  it('attn_head_by_pos_every [5, layer, pos, head]: layer and head combine on y', async () => {
    const tokens = IOI_TOKENS.slice(0, 3);
    const figure = patchHeatmap(
      syntheticResult(['activation', 'layer', 'pos', 'head'], [5, 2, 3, 2]),
      { tokens },
    );
    const spec = specOf(figure);
    expect(rowsOf(spec)).toHaveLength(60);
    expect(spec.spec.encoding.y.scale.domain).toEqual(['L0 H0', 'L0 H1', 'L1 H0', 'L1 H1']);
    expect(spec.spec.encoding.y.title).toBe('layer, head');
    expect(countMarkItems(await figure.toSVG(), 'cells')).toBe(60);
  });

  it('[layer, head, dest_pos, src_pos]: one panel per head, dest down, src across', () => {
    const spec = specOf(
      patchHeatmap(syntheticResult(['layer', 'head_index', 'dest_pos', 'src_pos'], [2, 2, 3, 3])),
    );
    expect(spec.facet.sort).toEqual(['L0 H0', 'L0 H1', 'L1 H0', 'L1 H1']);
    expect(spec.spec.encoding.x.title).toBe('source position');
    expect(spec.spec.encoding.y.title).toBe('destination position');
    expect(rowsOf(spec)).toHaveLength(36);
  });

  it('uses given labels for the activation axis', () => {
    const spec = specOf(
      patchHeatmap(syntheticResult(['activation', 'layer', 'head'], [2, 1, 1]), {
        labels: { activation: ['clean', 'corrupted'] },
      }),
    );
    expect(spec.facet.sort).toEqual(['clean', 'corrupted']);
  });
});

describe('patchHeatmap with an arquero table', () => {
  it('draws the same cells as the dense result', () => {
    const dense = syntheticResult(['layer', 'pos'], [2, 3]);
    const frame = table({
      layer: [0, 0, 0, 1, 1, 1],
      pos: [0, 1, 2, 0, 1, 2],
      value: Array.from(dense.values),
    });
    const tokens = IOI_TOKENS.slice(0, 3);
    const fromTable = specOf(patchHeatmap(frame, { tokens }));
    const fromDense = specOf(patchHeatmap(dense, { tokens }));
    expect(rowsOf(fromTable)).toEqual(rowsOf(fromDense));
    expect(fromTable.encoding.x.scale.domain).toEqual(fromDense.encoding.x.scale.domain);
  });

  it('reads string activation columns and null values', () => {
    const frame = table({
      activation: ['resid_pre', 'attn_out', 'resid_pre', 'attn_out'],
      layer: [0, 0, 1, 1],
      value: [1, null, -2, 0.5],
    });
    const figure = patchHeatmap(frame);
    const spec = specOf(figure);
    expect(spec.facet.sort).toEqual(['resid_pre', 'attn_out']);
    expect(rowsOf(spec).map((row) => row['value'])).toEqual([1, null, -2, 0.5]);
    expect(figure.caption).toContain('1 cell has no value');
  });

  it('shows every prompt position of a sparse table when tokens are given', () => {
    const frame = table({ layer: [0, 1], pos: [2, 4], value: [1, 2] });
    const spec = specOf(patchHeatmap(frame, { tokens: IOI_TOKENS.slice(0, 5) }));
    expect(spec.encoding.x.scale.domain).toHaveLength(5);
    expect(rowsOf(spec)).toHaveLength(2);
  });

  it('rejects duplicate cells and missing value columns', () => {
    expect(() => patchHeatmap(table({ layer: [0, 0], value: [1, 2] }))).toThrow(
      /two rows for layer=0/,
    );
    expect(() => patchHeatmap(table({ layer: [0], pos: [1] }))).toThrow(/no "value" column/);
    expect(() =>
      patchHeatmap(table({ layer: [0, 1], pos: [0, 7], value: [1, 2] }), { tokens: ['a', 'b'] }),
    ).toThrow(/tokens has 2 entries but the result's "pos" axis has position 7/);
  });
});

describe('patchHeatmap bad input', () => {
  const result = syntheticResult(['layer', 'pos'], [2, 4]);

  it('rejects tokens that do not match the positions', () => {
    const call = () => patchHeatmap(result, { tokens: ['a', 'b', 'c'] });
    expect(call).toThrow(VizInputError);
    expect(call).toThrow(
      /patchHeatmap: options\.tokens has 3 entries but the result's "pos" axis has 4 positions/,
    );
  });

  it('rejects empty results', () => {
    const empty: PatchResultLike = {
      values: new Float32Array(0),
      shape: [0, 4],
      axes: ['layer', 'pos'],
    };
    expect(() => patchHeatmap(empty)).toThrow(/the result is empty/);
    expect(() => patchHeatmap(table({ layer: [] as number[], value: [] as number[] }))).toThrow(
      /no rows/,
    );
  });

  it('rejects values that do not fill the shape, and axes that do not match it', () => {
    expect(() =>
      patchHeatmap({ values: [1, 2, 3], shape: [2, 2], axes: ['layer', 'pos'] }),
    ).toThrow(/result\.values has 3 entries but result\.shape \[2, 2\] needs 4/);
    expect(() => patchHeatmap({ values: [1, 2], shape: [2], axes: ['layer', 'pos'] })).toThrow(
      /has 1 axes but result\.axes \[layer, pos\] names 2/,
    );
    expect(() =>
      patchHeatmap({ values: [1], shape: [1, 1], axes: ['head', 'head_index'] }),
    ).toThrow(/appears twice/);
  });

  it('rejects results with too many axes, and labels of the wrong length', () => {
    const five = syntheticResult(
      ['activation', 'layer', 'head', 'dest_pos', 'src_pos'],
      [1, 1, 1, 1, 1],
    );
    expect(() => patchHeatmap(five)).toThrow(/cannot lay out a result with axes/);
    expect(() =>
      patchHeatmap(syntheticResult(['activation', 'layer'], [2, 1]), {
        labels: { activation: ['a'] },
      }),
    ).toThrow(/labels\.activation has 1 entries but axis "activation" has size 2/);
  });

  it('rejects a non-finite midpoint or a non-positive colour limit', () => {
    expect(() => patchHeatmap(result, { midpoint: Number.NaN })).toThrow(
      /midpoint must be a finite number/,
    );
    expect(() => patchHeatmap(result, { colorLimit: 0 })).toThrow(/colorLimit must be a positive/);
  });

  it('is branded like PatchLensError', () => {
    try {
      patchHeatmap(result, { tokens: [] });
      expect.unreachable();
    } catch (error) {
      expect(VizInputError.isInstance(error)).toBe(true);
      expect(Symbol.for('patchlens.error') in (error as object)).toBe(true);
      expect((error as Error).name).toBe('VizInputError');
    }
  });
});
