import { describe, expect, it } from 'vitest';
import { attributionScatter } from './attribution-scatter.js';
import { pearsonCorrelation } from './pearson-correlation.js';
import { syntheticResult } from './test-support/fixtures.js';
import { assertWellFormedSvg, countMarkItems } from './test-support/svg-marks.js';

// biome-ignore lint/suspicious/noExplicitAny: test access into a JSON spec
type Json = any;

describe('pearsonCorrelation', () => {
  it('matches a hand-computed value and the limits', () => {
    // x = [1, 2, 3, 4], y = [2, 1, 4, 3]: cov = 3/... r = 0.6 (computed by hand: sxy = 3, sxx = syy = 5)
    expect(pearsonCorrelation([1, 2, 3, 4], [2, 1, 4, 3])).toBeCloseTo(0.6, 12);
    expect(pearsonCorrelation([1, 2, 3], [10, 20, 30])).toBeCloseTo(1, 12);
    expect(pearsonCorrelation([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearsonCorrelation([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(pearsonCorrelation([1, Number.NaN, 3, 4], [2, 99, 4, 3])).toBeCloseTo(
      pearsonCorrelation([1, 3, 4], [2, 4, 3]),
      12,
    );
  });
});

describe('attributionScatter', () => {
  const exact = [0.1, 0.5, -0.2, 1.0, 0.3];
  const approximate = [0.12, 0.4, -0.1, 0.8, Number.NaN];

  it('has one point per finite pair and the correlation in the title', () => {
    const figure = attributionScatter(exact, approximate);
    const spec: Json = figure.toSpec();
    const points = spec.layer[1].data.values;
    expect(points).toHaveLength(4);
    const r = pearsonCorrelation(exact.slice(0, 4), approximate.slice(0, 4));
    expect(figure.title).toBe(
      `Attribution vs activation patching (Pearson r = ${r.toFixed(3)}, n = 4)`,
    );
    expect(spec.title).toBe(figure.title);
    expect(figure.caption).toContain('1 point has no value');
    expect(figure.caption).toContain('4 (exact 0.3, approximate NaN)');
    // both axes share one domain so y = x is the diagonal
    expect(spec.layer[1].encoding.x.scale.domain).toEqual(spec.layer[1].encoding.y.scale.domain);
  });

  it('names points from a patching result and draws them', async () => {
    const result = syntheticResult(['layer', 'head'], [2, 3]);
    const figure = attributionScatter(
      result,
      Array.from(result.values, (value) => value * 0.9),
    );
    const spec: Json = figure.toSpec();
    expect(spec.layer[1].data.values.map((row: Json) => row.label)).toEqual([
      'L0 H0',
      'L0 H1',
      'L0 H2',
      'L1 H0',
      'L1 H1',
      'L1 H2',
    ]);
    expect(figure.title).toContain('Pearson r = 1.000');
    const svg = await figure.toSVG();
    assertWellFormedSvg(svg);
    expect(countMarkItems(svg, 'points')).toBe(6);
  });

  it('rejects mismatched lengths or shapes, and empty input', () => {
    expect(() => attributionScatter([1, 2, 3], [1, 2])).toThrow(
      /attributionScatter: exact has 3 values but approximate has 2/,
    );
    expect(() =>
      attributionScatter(
        syntheticResult(['layer', 'head'], [2, 3]),
        syntheticResult(['layer', 'head'], [3, 2]),
      ),
    ).toThrow(/exact has shape \[2, 3\] but approximate has shape \[3, 2\]/);
    expect(() => attributionScatter([], [])).toThrow(/are empty/);
    expect(() => attributionScatter([Number.NaN], [1])).toThrow(
      /no pair of exact and approximate values is finite/,
    );
    expect(() => attributionScatter([1, 2], [1, 2], { labels: ['a'] })).toThrow(
      /options\.labels has 1 entries/,
    );
  });
});
