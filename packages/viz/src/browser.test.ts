import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionPatterns } from './attention-patterns.js';
import { attributionScatter } from './attribution-scatter.js';
import { coloredTokens } from './colored-tokens.js';
import type { Figure } from './figure.js';
import { htmlReport } from './html-report.js';
import { patchHeatmap } from './patch-heatmap.js';
import {
  IOI_TOKENS,
  longTokens,
  patternValue,
  syntheticPattern,
  syntheticResult,
} from './test-support/fixtures.js';

// Renders every figure type in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): the static HTML report, and the interactive `mount` from a browser bundle.
// Locally the suite is skipped when Chromium is missing; on CI (CI set) a missing browser fails.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const OUTPUT = fileURLToPath(new URL('../test-output/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
const skipLocally = !hasChromium && !process.env['CI'];

const P = 64;
const L = 12;
const H = 12;
const tokens64 = longTokens(P);

/** Every figure type and layout, at the sizes the labels must survive (12 layers, 12 heads, 64 positions). */
function reportFigures(): { name: string; figure: Figure }[] {
  return [
    {
      name: 'resid-pre-12x64',
      figure: patchHeatmap(syntheticResult(['layer', 'pos'], [L, P], { nanAt: [5, 70] }), {
        tokens: tokens64,
        title: 'resid_pre patching, 12 layers × 64 positions',
        valueLabel: 'logit diff',
      }),
    },
    {
      name: 'heads-12x12',
      figure: patchHeatmap(syntheticResult(['layer', 'head'], [L, H]), {
        title: 'attn_head_out_all_pos, 12 layers × 12 heads',
      }),
    },
    {
      name: 'ioi-resid',
      figure: patchHeatmap(syntheticResult(['layer', 'pos'], [L, IOI_TOKENS.length]), {
        tokens: IOI_TOKENS,
        title: 'IOI resid_pre (normalised, midpoint 0, limit 1)',
        colorLimit: 1,
      }),
    },
    {
      name: 'by-pos-12x64x12',
      figure: patchHeatmap(syntheticResult(['layer', 'pos', 'head'], [L, P, H]), {
        tokens: tokens64,
        title: 'attn_head_out_by_pos [layer, pos, head]',
      }),
    },
    {
      name: 'pattern-by-pos',
      figure: patchHeatmap(syntheticResult(['layer', 'head_index', 'dest_pos'], [L, H, P]), {
        tokens: tokens64,
        title: 'attn_head_pattern_by_pos [layer, head_index, dest_pos]',
      }),
    },
    {
      name: 'all-pos-every',
      figure: patchHeatmap(syntheticResult(['activation', 'layer', 'head'], [5, L, H]), {
        title: 'attn_head_all_pos_every [5, layer, head]',
      }),
    },
    {
      name: 'block-every',
      figure: patchHeatmap(syntheticResult(['activation', 'layer', 'pos'], [3, L, P]), {
        tokens: tokens64,
        title: 'block_every [3, layer, pos]',
      }),
    },
    {
      name: 'by-pos-every',
      figure: patchHeatmap(
        syntheticResult(['activation', 'layer', 'pos', 'head'], [5, 4, IOI_TOKENS.length, 4]),
        { tokens: IOI_TOKENS, title: 'attn_head_by_pos_every [5, layer, pos, head] (small model)' },
      ),
    },
    {
      name: 'attention-12x64',
      figure: attentionPatterns({ values: syntheticPattern(H, P), shape: [H, P, P] }, tokens64, {
        layer: 5,
        focusHead: 1,
      }),
    },
    {
      name: 'colored-tokens',
      figure: coloredTokens(
        tokens64,
        tokens64.map((_, index) => (index === 9 ? Number.NaN : patternValue(index))),
        { valueLabel: 'logit diff' },
      ),
    },
    {
      name: 'attribution-scatter',
      figure: attributionScatter(
        syntheticResult(['layer', 'head'], [L, H]),
        Array.from({ length: L * H }, (_, i) => patternValue(i) * 0.8 + Math.sin(i * 1.7) * 0.3),
      ),
    },
  ];
}

describe.skipIf(skipLocally)(
  `browser rendering in headless Chromium${skipLocally ? ` (skipped: ${CHROMIUM} is missing; apt-get install -y chromium)` : ''}`,
  () => {
    let browser: Browser;
    const consoleErrors: string[] = [];
    const requests: string[] = [];

    beforeAll(async () => {
      if (!hasChromium) {
        throw new Error(
          `${CHROMIUM} is missing and CI is set: install it (apt-get install -y chromium) before running the viz browser test.`,
        );
      }
      await mkdir(OUTPUT, { recursive: true });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    /** A fresh page (the report's Content-Security-Policy must not carry over) that records errors and requests. */
    async function openPage(): Promise<Page> {
      consoleErrors.length = 0;
      requests.length = 0;
      const opened = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      opened.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      opened.on('pageerror', (error) => consoleErrors.push(error.message));
      opened.on('request', (request) => requests.push(request.url()));
      return opened;
    }

    afterAll(async () => {
      await browser?.close();
    });

    it('shows the self-contained report with every figure type, without requests or errors', async () => {
      const figures = reportFigures();
      const html = await htmlReport(
        figures.map(({ name, figure }) => ({
          title: figure.title,
          caption: `Figure ${name}.`,
          figure,
        })),
        {
          title: 'PatchLens viz: every figure type',
          description: 'Rendered by the viz browser test.',
        },
      );
      await writeFile(`${OUTPUT}report.html`, html);
      const page = await openPage();
      await page.setContent(html, { waitUntil: 'load' });

      expect(await page.locator('figure .plot > svg').count()).toBe(figures.length);
      for (const [index, { name, figure }] of figures.entries()) {
        const plot = page.locator('figure .plot').nth(index);
        const box = await plot.locator('svg').boundingBox();
        expect(box, name).not.toBeNull();
        expect(box!.width, name).toBeGreaterThan(100);
        expect(box!.height, name).toBeGreaterThan(40);
        const marks = await plot.locator('[role="graphics-symbol"]').count();
        expect(marks, name).toBeGreaterThan(0);
        expect(await page.locator('figcaption').nth(index).textContent()).toBe(figure.caption);
        await page
          .locator('figure')
          .nth(index)
          .screenshot({ path: `${OUTPUT}${name}.png` });
      }
      await page.screenshot({ path: `${OUTPUT}report.png`, fullPage: true });
      expect(consoleErrors).toEqual([]);
      expect(
        requests.filter((url) => !url.startsWith('about:') && !url.startsWith('data:')),
      ).toEqual([]);
    }, 180_000);

    it('mounts every figure type as an interactive view with a hover tooltip', async () => {
      // bundle the package for the browser exactly as an app bundler would (no Node built-ins)
      const bundled = await build({
        input: fileURLToPath(new URL('./index.ts', import.meta.url)),
        platform: 'browser',
        write: false,
        logLevel: 'silent',
        output: { format: 'iife', name: 'PatchLensViz' },
        resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
      });
      const code = bundled.output[0].code;
      expect(code).not.toMatch(/\brequire\(["']node:/);

      const page = await openPage();
      await page.setContent(
        '<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:16px">' +
          '<div id="heatmap"></div><div id="every"></div><div id="attention"></div>' +
          '<div id="tokens"></div><div id="scatter"></div></body></html>',
      );
      await page.addScriptTag({ content: code });
      const input = {
        tokens: IOI_TOKENS as string[],
        heatmap: Array.from(syntheticResult(['layer', 'pos'], [4, IOI_TOKENS.length]).values),
        every: Array.from(syntheticResult(['activation', 'layer', 'head'], [5, 4, 4]).values),
        pattern: Array.from(syntheticPattern(4, IOI_TOKENS.length)),
      };
      const counts = await page.evaluate(async (data) => {
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, typed by the package itself
        const viz = (window as any).PatchLensViz as typeof import('./index.js');
        const P = data.tokens.length;
        const figures = {
          heatmap: viz.patchHeatmap(
            { values: data.heatmap, shape: [4, P], axes: ['layer', 'pos'] },
            { tokens: data.tokens, valueLabel: 'logit diff' },
          ),
          every: viz.patchHeatmap({
            values: data.every,
            shape: [5, 4, 4],
            axes: ['activation', 'layer', 'head'],
          }),
          attention: viz.attentionPatterns(
            { values: data.pattern, shape: [4, P, P] },
            data.tokens,
            { layer: 2 },
          ),
          tokens: viz.coloredTokens(data.tokens, data.heatmap.slice(0, P)),
          scatter: viz.attributionScatter(
            data.heatmap,
            data.heatmap.map((value: number) => value * 0.9 + 0.1),
          ),
        };
        for (const [id, figure] of Object.entries(figures)) {
          await figure.mount(document.getElementById(id)!);
        }
        const count = (selector: string) => document.querySelectorAll(selector).length;
        return {
          heatmap: count('#heatmap g.cells_marks > path'),
          every: count('#every g.cells_marks > path'),
          attentionSmall: count('#attention g.head_cells_marks > path'),
          attentionFocus: count('#attention g.focus_cells_marks > path'),
          tokens: count('#tokens g.token_boxes_marks > path'),
          scatter: count('#scatter g.points_marks > path'),
        };
      }, input);
      const P = IOI_TOKENS.length;
      const triangle = (P * (P + 1)) / 2;
      expect(counts).toEqual({
        heatmap: 4 * P,
        every: 80,
        attentionSmall: 4 * triangle,
        attentionFocus: triangle,
        tokens: P,
        scatter: 4 * P,
      });

      // hover layer 1, position 4 (" Mary"): the tooltip names layer, position, token and value
      await page
        .locator('#heatmap g.cells_marks > path')
        .nth(1 * P + 4)
        .hover();
      const tooltip = page.locator('.patchlens-tooltip');
      await expect.poll(() => tooltip.isVisible()).toBe(true);
      const text = await tooltip.textContent();
      expect(text).toContain('layer: 1');
      expect(text).toContain('pos: 4');
      expect(text).toContain('token: ␣Mary');
      expect(text).toMatch(/logit diff: -?\d/);
      await page.screenshot({
        path: `${OUTPUT}mount-heatmap-tooltip.png`,
        clip: { x: 0, y: 0, width: 900, height: 520 },
      });

      // the attention view's tooltip names both tokens
      await page
        .locator('#attention g.focus_cells_marks > path')
        .nth(triangle - 1)
        .hover();
      await expect
        .poll(async () => (await tooltip.textContent()) ?? '')
        .toContain('dest_token: ␣to');
      expect(consoleErrors).toEqual([]);
    }, 120_000);
  },
);
