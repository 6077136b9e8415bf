import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@patchlens/backends/node';
import * as tf from '@tensorflow/tfjs-core';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoOutcome, runDemo } from './run-demo.js';

const CHROMIUM = '/usr/bin/chromium';
const REPORT_SCREENSHOT = join(tmpdir(), 'patchlens-demo-report.png');

describe('the demo (smoke run: block_every and attn_head_out_all_pos on the bundled model)', () => {
  let outDir: string;
  let outcome: DemoOutcome;
  let stdout = '';
  let leaked = 0;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'patchlens-demo-'));
    const io = {
      stdout: {
        write: (chunk: string | Uint8Array) => {
          stdout += String(chunk);
        },
      },
      stderr: { write: () => undefined, isTTY: false },
    };
    await initNodeBackend('wasm');
    const before = tf.memory().numTensors;
    outcome = await runDemo({
      outDir,
      sweeps: ['block_every', 'attn_head_out_all_pos'],
      prompts: 4,
      backend: 'wasm',
      io,
    });
    leaked = tf.memory().numTensors - before;
  }, 300_000);

  it('prints both logit differences and leaks no tensors', () => {
    expect(stdout).toMatch(
      /clean logit diff -?\d+\.\d+, corrupted logit diff -?\d+\.\d+ \(4 prompts\)/,
    );
    expect(outcome.clean).toBeGreaterThan(outcome.corrupted);
    expect(leaked).toBe(0);
  });

  it('writes results.json in the patchlens patch layout, with values that obey IOI invariants', async () => {
    const json = JSON.parse(await readFile(outcome.results, 'utf8'));
    expect(Object.keys(json)).toEqual(['model', 'backend', 'tokens', 'metric', 'patches']);
    expect(json.metric.name).toBe('logit-diff');
    const { nLayers, nHeads } = json.model;
    const clean: number[][] = json.tokens.clean;
    const corrupted: number[][] = json.tokens.corrupted;
    const positions = clean[0]!.length;
    const block = json.patches.block_every;
    expect(block.axes).toEqual(['activation', 'layer', 'pos']);
    expect(block.shape).toEqual([3, nLayers, positions]);
    expect(json.patches.attn_head_out_all_pos.shape).toEqual([nLayers, nHeads]);
    // The corruption changes exactly one position (the subject's second mention) in every prompt.
    const changed = clean[0]!.flatMap((token, position) =>
      token !== corrupted[0]![position] ? [position] : [],
    );
    expect(changed).toHaveLength(1);
    for (let b = 1; b < clean.length; b++) {
      expect(clean[b]!.flatMap((token, p) => (token !== corrupted[b]![p] ? [p] : []))).toEqual(
        changed,
      );
    }
    // resid_pre of layer 0 is token + position embedding: patching the changed position gives the clean
    // run exactly, patching any other position changes nothing.
    for (let position = 0; position < positions; position++) {
      const expected = position === changed[0] ? json.metric.clean : json.metric.corrupted;
      expect(block.values[position]).toBeCloseTo(expected, 3);
    }
    for (const path of outcome.csv) {
      expect((await readFile(path, 'utf8')).split('\n')[0]).toMatch(/,value$/);
    }
  });

  it('writes a self-contained report that shows labelled heatmaps in Chromium', async () => {
    const html = await readFile(outcome.report, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
    if (!existsSync(CHROMIUM) && !process.env.CI) return; // CI installs Chromium (.ci/run)
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const requests: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith('file:')) requests.push(request.url());
      });
      await page.goto(`file://${outcome.report}`);
      // a fixed path too, to look at after a run
      await page.screenshot({ path: REPORT_SCREENSHOT, fullPage: true });
      const screenshot = await page.screenshot({
        path: join(outDir, 'report.png'),
        fullPage: true,
      });
      expect(screenshot.length).toBeGreaterThan(10_000);
      expect(requests).toEqual([]);
      // One heatmap per sweep plus the attention patterns of the top three heads.
      expect(await page.locator('svg').count()).toBeGreaterThanOrEqual(5);
      const text = await page.locator('body').innerText();
      expect(text).toContain('block_every');
      expect(text).toContain('Attention of head L');
      const labels = await page.locator('svg text').allTextContents();
      expect(labels).toContain('layer');
      expect(labels.some((label) => /^\d+: ␣\w+/.test(label))).toBe(true); // token labels like "3: ␣and"
      // positions are labelled by the IOI role they have in every prompt
      for (const role of ['S2', 'END']) {
        expect(
          labels.some((label) => new RegExp(`^\\d+: ${role} ␣\\w+`).test(label)),
          role,
        ).toBe(true);
      }
      // a bulleted summary in words, and the circuit compared with GPT-2 small's
      const bullets = await page.locator('section').first().locator('li').allInnerTexts();
      expect(bullets.length).toBeGreaterThanOrEqual(4);
      expect(bullets.join(' ')).toMatch(/100% = the clean behaviour, 0% = no effect/);
      expect(text).not.toMatch(/-0%/);
      expect(text).toContain('How GPT-2 small does IOI');
      expect(text).toMatch(/attends to (IO|S1|S2|BOS) \(\d+% of its attention\)/);
      // every patching heatmap on the one fixed scale: its legend reads -1 … 1
      const heatmapLegends = await page
        .locator('figure[data-kind="patchHeatmap"]')
        .evaluateAll((figures) =>
          figures.map((figure) =>
            [...figure.querySelectorAll('.role-legend-label text')]
              .map((node) => node.textContent)
              .join(' '),
          ),
        );
      // two sweeps and the path-patching figure
      expect(heatmapLegends.length).toBe(3);
      for (const legend of heatmapLegends) expect(legend).toMatch(/^[−-]1 0 1$/);
      // the residual-stream sections: the logit lens and the per-head direct logit attribution
      expect(await page.locator('figure[data-kind="logitLensChart"]').count()).toBe(1);
      expect(await page.locator('figure[data-kind="headAttributionHeatmap"]').count()).toBe(1);
      // path patching: every head as a sender, to the top later-layer head(s) and to the logits
      const paths = page.locator('section', { hasText: 'Which heads talk to which' });
      expect(await paths.count()).toBe(1);
      const panelTitles = await paths.locator('svg text').allTextContents();
      expect(panelTitles).toContain('logits');
      expect(panelTitles.some((title) => /^L1H\d \(q, k, v\)$/.test(title))).toBe(true);
      // each top head's attention drawn once, large, with its legend
      const attention = page.locator('figure[data-kind="attentionPatterns"]');
      expect(await attention.count()).toBe(3);
      for (const figure of await attention.all()) {
        expect(await figure.locator('.role-legend').count()).toBe(1);
        expect(await figure.innerText()).not.toContain('Each head');
        const box = await figure.locator('svg').first().boundingBox();
        expect(box!.width).toBeGreaterThan(300);
      }
      // small grids are large enough to read: 2 layers x 4 heads is at least 300 px wide
      const heads = await page
        .locator('section', { hasText: 'attn_head_out_all_pos' })
        .locator('svg')
        .first()
        .boundingBox();
      expect(heads!.width).toBeGreaterThan(300);
    } finally {
      await browser.close();
    }
  });
});
