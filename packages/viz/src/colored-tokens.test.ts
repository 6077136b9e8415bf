import { describe, expect, it } from 'vitest';
import { NO_VALUE_COLOR } from './color-scale.js';
import { coloredTokens } from './colored-tokens.js';
import { IOI_TOKENS, longTokens } from './test-support/fixtures.js';
import { assertWellFormedSvg, countMarkItems } from './test-support/svg-marks.js';

// biome-ignore lint/suspicious/noExplicitAny: test access into a JSON spec
type Json = any;

describe('coloredTokens', () => {
  const values = IOI_TOKENS.map((_, index) => index / 2 - 3);

  it('makes one box per token, in order, on a scale centred on the midpoint', () => {
    const spec: Json = coloredTokens(IOI_TOKENS, values, { midpoint: 1 }).toSpec();
    const rows = spec.data.values;
    expect(rows).toHaveLength(IOI_TOKENS.length);
    expect(rows.map((row: Json) => row.pos)).toEqual(IOI_TOKENS.map((_, index) => index));
    expect(rows[2].text).toBe('␣John');
    const [low, high] = spec.layer[0].encoding.color.scale.domain;
    expect((low + high) / 2).toBeCloseTo(1, 9);
    expect(high - 1).toBeCloseTo(Math.max(...values.map((value) => Math.abs(value - 1))), 9);
  });

  it('wraps onto new lines without overlapping boxes', () => {
    const tokens = longTokens(64);
    const spec: Json = coloredTokens(tokens, new Float32Array(64).fill(0.5), {
      width: 300,
    }).toSpec();
    const rows = spec.data.values;
    const lines = new Set(rows.map((row: Json) => row.y));
    expect(lines.size).toBeGreaterThan(3);
    for (let i = 1; i < rows.length; i++) {
      const previous = rows[i - 1];
      const current = rows[i];
      if (current.y === previous.y) expect(current.x).toBeGreaterThanOrEqual(previous.x2);
      else expect(current.y).toBeGreaterThan(previous.y);
      expect(current.x2 <= 300 || current.x === 0).toBe(true);
    }
  });

  it('draws NaN grey and names it in the caption; SVG has a box and a label per token', async () => {
    const withNaN = [...values];
    withNaN[4] = Number.NaN;
    const figure = coloredTokens(IOI_TOKENS, withNaN);
    expect(figure.caption).toContain('1 cell has no value');
    expect(figure.caption).toContain('pos 4 (␣Mary)');
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'token_boxes')).toBe(IOI_TOKENS.length);
    expect(countMarkItems(svg, 'token_text')).toBe(IOI_TOKENS.length);
    expect(svg).toContain(`fill="${NO_VALUE_COLOR}"`);
  });

  it('escapes markup in tokens', async () => {
    const svg = await coloredTokens(['<b>', ' &amp;', '"'], [1, 2, 3]).toSVG();
    assertWellFormedSvg(svg);
    expect(svg).toContain('&lt;b&gt;');
  });

  it('rejects values of the wrong length and empty input', () => {
    expect(() => coloredTokens(IOI_TOKENS, [1, 2])).toThrow(
      /coloredTokens: tokens has 15 entries but values has 2/,
    );
    expect(() => coloredTokens([], [])).toThrow(/tokens is empty/);
  });
});
