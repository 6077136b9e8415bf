import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@patchlens/backends/node';
import { randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import {
  attributionPatch,
  getActPatchResidPre,
  logitDiff,
  preparePatching,
} from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

/** A tiny GPT-2 with the real vocabulary (so text prompts tokenise as with gpt2). */
const MODEL = { nLayers: 2, nHeads: 2, dModel: 8, dVocab: 50257, nCtx: 32 };
const PROMPTS = [
  '--clean-ids',
  '50256,1722,5335,290',
  '--corrupted-ids',
  '50256,1722,1757,290',
  '--answer',
  '5335',
  '--wrong',
  '1757',
];

let folder: string;
let output: string;

beforeAll(async () => {
  await initNodeBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'patchlens-attribute-model-'));
  output = await mkdtemp(join(tmpdir(), 'patchlens-attribute-out-'));
  for (const [name, bytes] of randomGPT2CheckpointFiles(MODEL, { seed: 7 })) {
    await writeFile(join(folder, name), bytes);
  }
});

describe('patchlens attribute', () => {
  const base = () => ['attribute', '--model', folder, '--backend', 'cpu'];

  it('writes attributions under the exact sweeps’ names/axes/shapes, equal to the library; --with-exact adds the sweeps and correlations; --svg draws them', async () => {
    const before = tf.memory().numTensors;
    const svg = join(output, 'svg');
    const { code, stdout, stderr } = await runCli([
      ...base(),
      ...PROMPTS,
      '--kinds',
      'resid_pre,attn_head_out_all_pos',
      '--with-exact',
      '--svg',
      svg,
    ]);
    expect(stderr).not.toMatch(/Error/);
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const json = JSON.parse(stdout);
    expect(Object.keys(json.attributions)).toEqual(['resid_pre', 'attn_head_out_all_pos']);
    expect(json.attributions.resid_pre.axes).toEqual(['layer', 'pos']);
    expect(json.attributions.resid_pre.shape).toEqual([2, 4]);
    expect(json.attributions.attn_head_out_all_pos.shape).toEqual([2, 2]);
    expect(Object.keys(json.correlations)).toEqual(['resid_pre', 'attn_head_out_all_pos']);

    // the same numbers from the library
    const model = await loadGPT2FromFolder(folder);
    const clean = tf.tensor2d([[50256, 1722, 5335, 290]], undefined, 'int32');
    const corrupted = tf.tensor2d([[50256, 1722, 1757, 290]], undefined, 'int32');
    try {
      const metric = logitDiff({ answers: 5335, wrong: 1757 });
      const { results } = await attributionPatch(model, clean, corrupted, metric, {
        kinds: 'resid_pre',
      });
      const expected = Array.from(results.get('resid_pre')!.values);
      json.attributions.resid_pre.values.forEach((value: number, i: number) => {
        expect(value).toBeCloseTo(expected[i]!, 5);
      });
      using prepared = await preparePatching(model, clean, corrupted, metric);
      const exact = await getActPatchResidPre(model, corrupted, prepared.cleanCache, metric);
      json.patches.resid_pre.values.forEach((value: number, i: number) => {
        expect(value).toBeCloseTo(exact.values[i]!, 5);
      });
      expect(json.metric.corrupted).toBeCloseTo(prepared.corrupted, 5);
    } finally {
      tf.dispose([clean, corrupted]);
      model.dispose();
    }
    for (const name of ['attribution_resid_pre', 'resid_pre']) {
      expect((await readFile(join(svg, `${name}.svg`), 'utf8')).startsWith('<svg')).toBe(true);
    }
  });

  it('bad input: exit 2 with one line naming the flag', async () => {
    const badKind = await runCli([...base(), ...PROMPTS, '--kinds', 'resid_pr']);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr.trim().split('\n').at(-1)).toMatch(
      /^patchlens attribute: --kinds: unknown kind "resid_pr"; did you mean "resid_pre"/,
    );
    const noAnswer = await runCli([...base(), ...PROMPTS.slice(0, 4)]);
    expect(noAnswer.code).toBe(2);
    expect(noAnswer.stderr.trim().split('\n').at(-1)).toMatch(
      /^patchlens attribute: --answer is required/,
    );
    const badOut = await runCli([...base(), ...PROMPTS, '--out', 'x.csv']);
    expect(badOut.code).toBe(2);
    expect(badOut.stderr).toMatch(/--out "x.csv" must end in .json/);
  });
});

describe('patchlens analyze', () => {
  const base = () => ['analyze', '--model', folder, '--backend', 'cpu'];

  it('logit lens ends at the run’s logit difference; head and component attributions are consistent; --svg', async () => {
    const before = tf.memory().numTensors;
    const svg = join(output, 'analyze-svg');
    const { code, stdout, stderr } = await runCli([
      ...base(),
      '--text',
      'When John and Mary went to the shops, John gave the bag to',
      '--answer',
      ' Mary',
      '--wrong',
      ' John',
      '--svg',
      svg,
    ]);
    expect(stderr).toContain('figures:');
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const json = JSON.parse(stdout);
    expect(json.logitLens.labels).toEqual(['0_pre', '1_pre', 'final_post']);
    expect(json.logitLens.logitDiff.at(-1)).toBeCloseTo(json.logitDiff, 4);
    expect(json.headAttribution.shape).toEqual([2, 2]);
    expect(json.componentAttribution.labels).toEqual([
      'embed',
      'pos_embed',
      '0_attn_out',
      '0_mlp_out',
      '1_attn_out',
      '1_mlp_out',
    ]);
    const sum = json.componentAttribution.values.reduce((a: number, b: number) => a + b, 0);
    expect(sum + json.unembedBiasDiff).toBeCloseTo(json.logitDiff, 3);
    expect(json.logitLens.top[0]).toHaveLength(5);
    for (const name of ['logit_lens', 'head_attribution']) {
      expect((await readFile(join(svg, `${name}.svg`), 'utf8')).startsWith('<svg')).toBe(true);
    }
  });

  it('bad input: exit 2 with one line', async () => {
    const neither = await runCli([...base(), '--answer', '5', '--wrong', '6']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/give the prompts either as text/);
    const badTopK = await runCli([
      ...base(),
      '--ids',
      '1,2,3',
      '--answer',
      '5',
      '--wrong',
      '6',
      '--top-k',
      'x',
    ]);
    expect(badTopK.code).toBe(2);
    expect(badTopK.stderr).toMatch(/--top-k "x" must be a positive integer/);
  });
});
