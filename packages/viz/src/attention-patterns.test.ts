import { describe, expect, it } from 'vitest';
import { attentionPatterns } from './attention-patterns.js';
import { IOI_TOKENS, syntheticPattern } from './test-support/fixtures.js';
import { assertWellFormedSvg, countMarkItems } from './test-support/svg-marks.js';
import { VizInputError } from './viz-input-error.js';

// biome-ignore lint/suspicious/noExplicitAny: test access into a JSON spec
type Json = any;

const H = 3;
const P = 6;
const tokens = IOI_TOKENS.slice(0, P);
const flat = syntheticPattern(H, P);
/** The same pattern as nested arrays [head][dest][src], built by index arithmetic. */
const nested = Array.from({ length: H }, (_, head) =>
  Array.from({ length: P }, (_, dest) =>
    Array.from({ length: P }, (_, src) => flat[(head * P + dest) * P + src]!),
  ),
);
const triangle = (P * (P + 1)) / 2;

describe('attentionPatterns', () => {
  it('draws the lower triangle of every head plus the focus head', () => {
    const spec: Json = attentionPatterns(nested, tokens).toSpec();
    const [small, focus] = spec.vconcat;
    expect(small.data.values).toHaveLength(H * triangle);
    expect(focus.data.values).toHaveLength(triangle);
    for (const row of [...small.data.values, ...focus.data.values]) {
      expect(row.src_pos).toBeLessThanOrEqual(row.dest_pos);
      expect(row.value).toBe(nested[row.head]![row.dest_pos]![row.src_pos]);
    }
    expect(small.facet.sort).toEqual(['head 0', 'head 1', 'head 2']);
    expect(focus.data.values.every((row: Json) => row.head === 0)).toBe(true);
  });

  it('draws a single head that is also the focus once, large, without the small multiples', async () => {
    const figure = attentionPatterns(nested, tokens, { heads: [1], focusHead: 1, layer: 2 });
    const spec: Json = figure.toSpec();
    expect(spec.vconcat).toBeUndefined();
    expect(spec.data.values).toHaveLength(triangle);
    expect(spec.data.values.every((row: Json) => row.head === 1)).toBe(true);
    expect(spec.encoding.color.title).toBe('attention');
    expect(figure.caption).toMatch(/^Attention of L2H1 over 6 tokens/);
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    // one heatmap of the lower triangle, nothing drawn twice
    expect(countMarkItems(svg, 'focus_cells')).toBe(triangle);
  });

  it('puts tokens on both axes of the focus view, destination down, source across', () => {
    const spec: Json = attentionPatterns(nested, tokens, { focusHead: 2, layer: 4 }).toSpec();
    const focus = spec.vconcat[1];
    expect(focus.title.text).toBe('L4H2');
    expect(focus.encoding.x.scale.domain).toEqual(focus.encoding.y.scale.domain);
    expect(focus.encoding.x.scale.domain[2]).toBe('2: ␣John');
    expect(focus.encoding.y.field).toBe('dest_label');
    expect(focus.encoding.x.field).toBe('src_label');
    expect(focus.encoding.color.scale.domain).toEqual([0, 1]);
    expect(spec.title).toBe('Attention patterns, layer 4');
  });

  it('accepts flat values with a shape, giving the same spec as nested arrays', () => {
    const fromFlat = attentionPatterns({ values: flat, shape: [H, P, P] }, tokens).toSpec();
    const fromNested = attentionPatterns(nested, tokens).toSpec();
    expect(fromFlat).toEqual(fromNested);
  });

  it('draws only the chosen heads', async () => {
    const figure = attentionPatterns(nested, tokens, { heads: [2, 0], focusHead: 1 });
    const spec: Json = figure.toSpec();
    expect(spec.vconcat[0].facet.sort).toEqual(['head 2', 'head 0']);
    expect(spec.vconcat[0].data.values).toHaveLength(2 * triangle);
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'head_cells')).toBe(2 * triangle);
    expect(countMarkItems(svg, 'focus_cells')).toBe(triangle);
  });

  it('widens the colour scale for values outside [0, 1] and lists NaN', () => {
    const odd = nested.map((head) => head.map((row) => [...row]));
    odd[0]![3]![1] = 1.5;
    odd[1]![2]![2] = Number.NaN;
    const figure = attentionPatterns(odd, tokens);
    const spec: Json = figure.toSpec();
    expect(spec.vconcat[1].encoding.color.scale.domain).toEqual([0, 1.5]);
    expect(figure.caption).toContain('1 cell has no value');
    expect(figure.caption).toContain('head 1, dest 2 (␣John), src 2 (␣John)');
  });

  it('rejects mismatched tokens, bad heads and malformed patterns', () => {
    expect(() => attentionPatterns(nested, tokens.slice(1))).toThrow(
      /attentionPatterns: tokens has 5 entries but the pattern has 6 positions/,
    );
    expect(() => attentionPatterns(nested, tokens, { focusHead: 3 })).toThrow(
      /options\.focusHead is 3; heads are integers from 0 to 2/,
    );
    expect(() => attentionPatterns(nested, tokens, { heads: [0, 0] })).toThrow(
      /lists a head twice/,
    );
    expect(() => attentionPatterns(nested, tokens, { heads: [] })).toThrow(
      /options\.heads is empty/,
    );
    expect(() => attentionPatterns({ values: flat, shape: [1, H, P, P] }, tokens)).toThrow(
      /pattern\.shape must be \[head, dest, src\]/,
    );
    expect(() => attentionPatterns({ values: flat, shape: [H, P, P - 1] }, tokens)).toThrow(
      VizInputError,
    );
    expect(() => attentionPatterns([[[1, 0]]], ['a'])).toThrow(/pattern\[0\]\[0\] has 2 entries/);
    expect(() => attentionPatterns([], [])).toThrow(/the pattern is empty/);
  });
});
