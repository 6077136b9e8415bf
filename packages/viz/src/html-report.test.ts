import { describe, expect, it } from 'vitest';
import { attentionPatterns } from './attention-patterns.js';
import { coloredTokens } from './colored-tokens.js';
import { htmlReport, prefixSvgIds } from './html-report.js';
import { patchHeatmap } from './patch-heatmap.js';
import { IOI_TOKENS, syntheticPattern, syntheticResult } from './test-support/fixtures.js';

describe('htmlReport', () => {
  const tokens = IOI_TOKENS.slice(0, 5);
  const sections = [
    {
      title: 'Residual <stream>',
      caption: 'Patching resid_pre & friends.',
      figure: patchHeatmap(syntheticResult(['layer', 'pos'], [2, 5], { nanAt: [1] }), { tokens }),
    },
    {
      title: 'Heads',
      figure: patchHeatmap(syntheticResult(['activation', 'layer', 'head'], [5, 2, 2])),
    },
    {
      title: 'Attention',
      figure: attentionPatterns({ values: syntheticPattern(2, 5), shape: [2, 5, 5] }, tokens),
    },
    { title: 'Tokens', figure: coloredTokens(tokens, [1, -1, 0, 2, -2]) },
    { title: 'Notes only', caption: 'No figure here.', bullets: ['first <point>', 'second'] },
  ];

  it('is one self-contained page: inline SVG and style, no scripts or external resources', async () => {
    const html = await htmlReport(sections, {
      title: 'IOI <report>',
      description: 'Made in a test.',
    });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/\s(?:src|href)="(?!#)/i);
    // the only URLs are XML namespace names, which are never fetched
    const urls = html.match(/https?:\/\/[^\s"')]+/g) ?? [];
    expect(urls.every((url) => url.startsWith('http://www.w3.org/'))).toBe(true);
    expect(html).toContain('Content-Security-Policy');
    expect(html.match(/<svg/g)).toHaveLength(4);
    expect(html).toContain('<title>IOI &lt;report&gt;</title>');
    expect(html).toContain('<h2>Residual &lt;stream&gt;</h2>');
    expect(html).toContain('<p>Patching resid_pre &amp; friends.</p>');
    expect(html).toContain('1 cell has no value');
    expect(html).toContain('<ul><li>first &lt;point&gt;</li><li>second</li></ul>');
  });

  it('keeps ids unique across figures, and every url(#id) points at an existing id', async () => {
    const html = await htmlReport(sections);
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((match) => match[1]!);
    expect(new Set(ids).size).toBe(ids.length);
    const references = [...html.matchAll(/url\(#([^)]+)\)/g)].map((match) => match[1]!);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) expect(ids).toContain(reference);
  });

  it('prefixes ids, url() and href references', () => {
    const svg =
      '<svg><defs><linearGradient id="g0"/></defs><path fill="url(#g0)"/><use href="#g0"/></svg>';
    expect(prefixSvgIds(svg, 'f1-')).toBe(
      '<svg><defs><linearGradient id="f1-g0"/></defs><path fill="url(#f1-g0)"/><use href="#f1-g0"/></svg>',
    );
  });

  it('rejects an empty list of sections and untitled sections', async () => {
    await expect(htmlReport([])).rejects.toThrow(/htmlReport: sections must be a non-empty array/);
    await expect(htmlReport([{ title: '' }])).rejects.toThrow(
      /sections\[0\]\.title must be a non-empty string/,
    );
  });
});
