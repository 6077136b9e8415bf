import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '@patchlens/backends/node';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import {
  logitDiff,
  PATCHING_FUNCTIONS,
  type PatchRunJson,
  preparePatching,
} from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import { type Browser, chromium } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWebConfig } from '../web/vite.config.js';
import { heldOutIoiBatch } from './demo/demo-prompts.js';

const CHROMIUM = '/usr/bin/chromium';
// Headless Chromium with a SwiftShader (CPU) WebGPU adapter. `--use-vulkan=swiftshader` matters:
// without it the first synchronous GPU read (tfjs-webgpu reads through a WebGPU canvas) loses the
// WebGPU instance ("A valid external Instance reference no longer exists").
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
  '--use-angle=swiftshader',
  '--use-vulkan=swiftshader',
  '--enable-features=Vulkan',
];
const BUNDLED_MODEL = ioiModelFolder;
const SWEEPS = ['block_every', 'attn_head_out_all_pos'] as const;
const PROMPTS = 2;
// Fixed paths, to look at after a run: the page after the sweeps, and both runs' timings.
const SCREENSHOT = join(tmpdir(), 'patchlens-web-app.png');
const TIMINGS = join(tmpdir(), 'patchlens-web-app-timings.json');
const ERROR_SCREENSHOT = join(tmpdir(), 'patchlens-web-app-error.png');

/** `a` equals `b` to 1e-3, relative for values larger than 1 (GPU float32 differs slightly). */
function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(b));
}

/** The same sweeps in Node on the wasm backend, straight through the library. */
async function nodeRun(modelFolder: string) {
  await initNodeBackend('wasm');
  const model = await loadGPT2FromFolder(modelFolder);
  const batch = heldOutIoiBatch(model.tokenizer, PROMPTS);
  const metric = logitDiff({ answers: [...batch.answerTokens], wrong: [...batch.wrongTokens] });
  const shape: [number, number] = [batch.clean.length, batch.clean[0]!.length];
  const clean = tf.tensor2d(batch.clean.flat(), shape, 'int32');
  const corrupted = tf.tensor2d(batch.corrupted.flat(), shape, 'int32');
  try {
    using prepared = await preparePatching(model, clean, corrupted, metric);
    const values: Record<string, Float32Array> = {};
    const milliseconds: Record<string, number> = {};
    for (const sweep of SWEEPS) {
      const started = performance.now();
      const result = await PATCHING_FUNCTIONS[sweep](model, corrupted, prepared.cleanCache, metric);
      milliseconds[sweep] = performance.now() - started;
      values[sweep] = result.values;
    }
    return { batch, clean: prepared.clean, corrupted: prepared.corrupted, values, milliseconds };
  } finally {
    clean.dispose();
    corrupted.dispose();
    model.dispose();
  }
}

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)(
  'the browser app (vite build, headless Chromium) against the library in Node',
  () => {
    let workDir: string;
    let modelFolder = BUNDLED_MODEL;
    let server: PreviewServer | undefined;
    let browser: Browser | undefined;
    let page: Awaited<ReturnType<Browser['newPage']>>;
    let webgpuAvailable = false;
    const foreignRequests: string[] = [];

    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), 'patchlens-web-'));
      // The bundled IOI model when it is there, else a random one with GPT-2's vocabulary.
      if (!existsSync(join(BUNDLED_MODEL, 'config.json'))) {
        modelFolder = join(workDir, 'model');
        await mkdir(modelFolder);
        const files = randomGPT2CheckpointFiles({
          nLayers: 2,
          nHeads: 4,
          dModel: 64,
          dVocab: 50257,
          nCtx: 64,
        });
        for (const [name, bytes] of files) await writeFile(join(modelFolder, name), bytes);
      }
      const config = demoWebConfig({ modelFolder, outDir: join(workDir, 'dist') });
      await build({ ...config, configFile: false, logLevel: 'warn' });
      server = await preview({
        ...config,
        configFile: false,
        logLevel: 'warn',
        preview: { host: '127.0.0.1', port: 0 },
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const origin = server.resolvedUrls!.local[0]!;
      page.on('request', (request) => {
        const url = request.url();
        if (!url.startsWith(origin) && !/^(data|blob):/.test(url)) foreignRequests.push(url);
      });
      await page.goto(origin);
      webgpuAvailable = await page.evaluate(
        async () => (await navigator.gpu?.requestAdapter()) != null,
      );
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    it('runs the IOI sweeps on webgpu when picked and matches Node (wasm) to 1e-3', async () => {
      const modelStatus = page.locator('#model-status');
      await page.waitForFunction(
        () =>
          /ready|error/.test(
            document.querySelector<HTMLElement>('#model-status')!.dataset['state']!,
          ),
        undefined,
        { timeout: 30_000 },
      );
      expect(await modelStatus.getAttribute('data-state'), await modelStatus.innerText()).toBe(
        'ready',
      );
      const backendStatus = page.locator('#backend-status');
      // Chromium runs WebGPU and WebGL on SwiftShader here: auto passes over both for wasm and says so.
      expect(await backendStatus.getAttribute('data-backend')).toBe('wasm');
      if (webgpuAvailable) {
        expect(await backendStatus.innerText()).toMatch(
          /running on wasm \(WebGPU here is software \(google swiftshader.*pick webgpu/,
        );
        // Picking webgpu by hand starts it on the software adapter and reloads the model.
        await page.selectOption('#backend-select', 'webgpu');
        await page.waitForFunction(
          () =>
            document.querySelector<HTMLElement>('#backend-status')!.dataset['backend'] ===
              'webgpu' &&
            /ready|error/.test(
              document.querySelector<HTMLElement>('#model-status')!.dataset['state']!,
            ),
          undefined,
          { timeout: 30_000 },
        );
        expect(await modelStatus.getAttribute('data-state')).toBe('ready');
        expect(await backendStatus.innerText()).toMatch(
          /running on webgpu \(google swiftshader.*software\)/,
        );
      }
      const backend = await backendStatus.getAttribute('data-backend');
      expect(backend).toBe(webgpuAvailable ? 'webgpu' : 'wasm');
      expect(await backendStatus.innerText()).toContain(`running on ${backend}`);

      await page.fill('#ioi-count', String(PROMPTS));
      await page.click('#ioi-batch');
      for (const box of await page.locator('#sweep-choices input').all()) {
        await box.setChecked(SWEEPS.includes((await box.inputValue()) as (typeof SWEEPS)[number]));
      }
      await page.click('#run');
      await page.waitForFunction(
        () =>
          /done|error|cancelled/.test(
            document.querySelector<HTMLElement>('#run-status')!.dataset['state']!,
          ),
        undefined,
        { timeout: 90_000 },
      );
      const runStatus = page.locator('#run-status');
      expect(await runStatus.getAttribute('data-state'), await runStatus.innerText()).toBe('done');
      expect(await runStatus.getAttribute('data-leaked-tensors')).toBe('0');
      const screenshot = await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(screenshot.length).toBeGreaterThan(20_000);
      // one interactive heatmap per sweep
      for (const sweep of SWEEPS) {
        expect(await page.locator(`section[data-sweep="${sweep}"] svg`).count()).toBeGreaterThan(0);
      }

      const browserRun: PatchRunJson = await page.evaluate(async () => {
        const link = document.querySelector<HTMLAnchorElement>('#download-results')!;
        return (await fetch(link.href)).json();
      });
      const nodeResult = await nodeRun(modelFolder);
      const browserMilliseconds = Object.fromEntries(
        SWEEPS.map((sweep) => [sweep, browserRun.patches[sweep]?.ms]),
      );
      await writeFile(
        TIMINGS,
        JSON.stringify({
          model: browserRun.model,
          prompts: PROMPTS,
          [String(backend)]: browserMilliseconds,
          wasmNode: nodeResult.milliseconds,
          largestDifference: Object.fromEntries(
            SWEEPS.map((sweep) => [
              sweep,
              Math.max(
                ...browserRun.patches[sweep]!.values.map((value, index) =>
                  Math.abs(value - nodeResult.values[sweep]![index]!),
                ),
              ),
            ]),
          ),
        }),
      );
      expect(browserRun.backend).toBe(backend);
      expect(foreignRequests).toEqual([]);
      expect(browserRun.tokens.clean).toEqual(nodeResult.batch.clean);
      expect(browserRun.tokens.corrupted).toEqual(nodeResult.batch.corrupted);
      expect(close(browserRun.metric.clean, nodeResult.clean)).toBe(true);
      expect(close(browserRun.metric.corrupted, nodeResult.corrupted)).toBe(true);
      for (const sweep of SWEEPS) {
        const gpu = browserRun.patches[sweep]!.values;
        const wasm = Array.from(nodeResult.values[sweep]!);
        expect(gpu).toHaveLength(wasm.length);
        const mismatches = gpu.flatMap((value, index) =>
          close(value, wasm[index]!) ? [] : [`${index}: ${value} vs ${wasm[index]}`],
        );
        expect(mismatches, sweep).toEqual([]);
      }
    }, 150_000);

    it('draws every sweep on one -1..1 scale, and a new run with bad prompts clears the old results', async () => {
      // (runs after the test above, on its finished page)
      const legends = await page.locator('section.sweep').evaluateAll((sections) =>
        sections.map((section) =>
          [...section.querySelectorAll('.role-legend-label text, .role-legend-label')]
            .map((node) => node.textContent?.trim())
            .filter((text) => text)
            .join(' '),
        ),
      );
      expect(legends.length).toBe(SWEEPS.length);
      expect(new Set(legends).size, legends.join(' | ')).toBe(1);
      expect(legends[0]).toMatch(/−1|-1/);

      // the corrupted line gets one more token than the clean one
      const corrupted = await page.inputValue('#corrupted-prompts');
      await page.fill('#corrupted-prompts', corrupted.replace(/\n|$/, ' again\n'));
      await page.click('#run');
      const runStatus = page.locator('#run-status');
      await page.waitForFunction(
        () => document.querySelector<HTMLElement>('#run-status')!.dataset['state'] === 'error',
        undefined,
        { timeout: 10_000 },
      );
      const text = await runStatus.innerText();
      expect(text).toMatch(
        /^prompt 1 has (\d+) tokens in its clean line but (?!\1)\d+ in its corrupted line/,
      );
      expect(text).not.toMatch(/prompt 0/);
      expect(await page.locator('#results').innerHTML()).toBe('');
      expect(
        await page.locator('#run-progress').evaluate((bar) => (bar as HTMLProgressElement).value),
      ).toBe(0);
      await page.screenshot({ path: ERROR_SCREENSHOT, fullPage: true });
    }, 30_000);

    it('loads a picked GPT-NeoX (Pythia) folder with tokenizer.json on the shared decoder', async () => {
      const folder = join(workDir, 'pythia');
      await mkdir(folder);
      const checkpoint = fileURLToPath(
        new URL(
          '../../../packages/models-neox/test/fixtures/transformerlens/neox/checkpoint/',
          import.meta.url,
        ),
      );
      for (const name of ['config.json', 'model.safetensors']) {
        await writeFile(join(folder, name), await readFile(join(checkpoint, name)));
      }
      await writeFile(
        join(folder, 'tokenizer.json'),
        await readFile(
          fileURLToPath(
            new URL(
              '../../../packages/decoder/test/fixtures/byte-level-bpe.tokenizer.json',
              import.meta.url,
            ),
          ),
        ),
      );
      await page.locator('#checkpoint-folder').setInputFiles(folder);
      await page.waitForFunction(
        () =>
          /ready|error/.test(
            document.querySelector<HTMLElement>('#model-status')!.dataset['state']!,
          ),
        undefined,
        { timeout: 30_000 },
      );
      const modelStatus = page.locator('#model-status');
      expect(await modelStatus.getAttribute('data-state'), await modelStatus.innerText()).toBe(
        'ready',
      );
      expect(await modelStatus.innerText()).toContain('2 layers, 4 heads, dModel 32, 300 tokens');
    }, 60_000);
  },
);
