import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@patchlens/backends/node';
import { randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { logitDiff, pathPatch } from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const MODEL = { nLayers: 2, nHeads: 3, dModel: 12, dVocab: 64, nCtx: 16 };
const PROMPTS = [
  '--clean-ids',
  '1,7,9,22,5',
  '--corrupted-ids',
  '1,7,30,22,5',
  '--answer',
  '9',
  '--wrong',
  '30',
];

let folder: string;
let output: string;

beforeAll(async () => {
  await initNodeBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'patchlens-path-model-'));
  output = await mkdtemp(join(tmpdir(), 'patchlens-path-out-'));
  for (const [name, bytes] of randomGPT2CheckpointFiles(MODEL, { seed: 4 })) {
    await writeFile(join(folder, name), bytes);
  }
});

describe('patchlens path', () => {
  it('writes one entry per --receivers set, equal to the library, and the sender x receiver heatmap', async () => {
    const out = join(output, 'path.json');
    const svg = join(output, 'svg');
    const { code, stderr } = await runCli([
      'path',
      '--model',
      folder,
      '--backend',
      'cpu',
      ...PROMPTS,
      '--receivers',
      '1.0.q,1.2',
      '--receivers',
      'logits',
      '--out',
      out,
      '--svg',
      svg,
    ]);
    expect(stderr).not.toMatch(/Error|at /);
    expect(code).toBe(0);
    const document = JSON.parse(await readFile(out, 'utf8'));
    expect(document.senders).toBe('all-heads');
    expect(document.tokens.clean).toEqual([[1, 7, 9, 22, 5]]);
    expect(document.paths.map((entry: { receivers: string }) => entry.receivers)).toEqual([
      '1.0.q,1.2',
      'logits',
    ]);
    expect(document.paths[0].effect).toMatchObject({ axes: ['layer', 'head'], shape: [2, 3] });

    const model = await loadGPT2FromFolder(folder);
    const clean = tf.tensor2d([[1, 7, 9, 22, 5]], undefined, 'int32');
    const corrupted = tf.tensor2d([[1, 7, 30, 22, 5]], undefined, 'int32');
    try {
      const expected = await pathPatch(model, {
        clean,
        corrupted,
        metric: logitDiff({ answers: 9, wrong: 30 }),
        senders: 'all-heads',
        receivers: [
          { layer: 1, head: 0, input: 'q' },
          { layer: 1, head: 2, input: 'q' },
          { layer: 1, head: 2, input: 'k' },
          { layer: 1, head: 2, input: 'v' },
        ],
      });
      expect(document.metric.clean).toBeCloseTo(expected.clean, 5);
      document.paths[0].normalized.values.forEach((value: number, index: number) => {
        expect(value).toBeCloseTo(expected.normalized.values[index]!, 5);
      });
      // senders in layer 1 cannot reach layer-1 receivers: exactly zero
      expect(document.paths[0].effect.values.slice(3)).toEqual([0, 0, 0]);
    } finally {
      tf.dispose([clean, corrupted]);
      model.dispose();
    }
    const figure = await readFile(join(svg, 'path.svg'), 'utf8');
    expect(figure).toContain('<svg');
    expect(figure).toContain('logits');
  });

  it('writes CSV with the receivers, the sender axes, effect and normalized', async () => {
    const { code, stdout } = await runCli([
      'path',
      '--model',
      folder,
      '--backend',
      'cpu',
      ...PROMPTS,
      '--senders',
      '0.1,0.2',
      '--receivers',
      'resid_post',
      '--out',
      join(output, 'sets.csv'),
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    const lines = (await readFile(join(output, 'sets.csv'), 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('receivers,senders,effect,normalized');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^"resid_post",0\.1\+0\.2,-?\d/);
  });

  it.each([
    [['--receivers', '1.0.x'], /--receivers entry "1\.0\.x" is not a receiver/],
    [['--senders', 'all', '--receivers', 'logits'], /--senders entry "all" is not a head/],
    [[], /--receivers is required/],
    [['--receivers', '2.0.q'], /receiver .*"layer":2.* is not a head of this model/],
    [['--receivers', 'logits', '--batch-size', '0'], /--batch-size "0" is not a positive integer/],
    [['--receivers', 'logits', '--out', join(tmpdir(), 'r.arrow')], /must end in \.json or \.csv/],
  ])('refuses %j with exit 2 and one line', async (extra, message) => {
    const { code, stderr, stdout } = await runCli([
      'path',
      '--model',
      folder,
      '--backend',
      'cpu',
      ...PROMPTS,
      ...extra,
    ]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const last = stderr.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^patchlens path: /);
    expect(last).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('path --help lists the receivers forms', async () => {
    const { code, stdout } = await runCli(['path', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--receivers logits\|resid_post\|L\.H\[\.q\|k\|v\]/);
  });
});
