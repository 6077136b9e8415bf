import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@patchlens/backends/node';
import { type GPT2, randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { getActPatchResidPre, logitDiff, preparePatching } from '@patchlens/patching';
import { readSafetensorsFile } from '@patchlens/safetensors/node';
import * as tf from '@tensorflow/tfjs-core';
import { fromArrow } from 'arquero';
import { beforeAll, describe, expect, it } from 'vitest';
import { runPatchlens } from './main.js';

/** A tiny GPT-2 with the real vocabulary, so text prompts tokenise as with gpt2. */
const MODEL = { nLayers: 2, nHeads: 2, dModel: 8, dVocab: 50257, nCtx: 32 };
const CLEAN = 'When John and Mary went to the shops, John gave the bag to';
const CORRUPTED = 'When Mary and John went to the shops, Mary gave the bag to';

/** One prompt pair given as ids (" Mary" -> " John" at position 2) and two cheap sweeps. */
const ID_PROMPT_ARGS = [
  '--clean-ids',
  '50256,1722,5335,290',
  '--corrupted-ids',
  '50256,1722,1757,290',
  '--answer',
  '5335',
  '--wrong',
  '1757',
  '--patch',
  'resid_pre,attn_head_out_all_pos',
];

let folder: string;
let output: string;

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: {
      write: (chunk: string | Uint8Array) => {
        stdout += String(chunk);
      },
    },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
      },
      isTTY: false,
    },
  };
  const code = await runPatchlens(argv, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  await initNodeBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'patchlens-cli-model-'));
  output = await mkdtemp(join(tmpdir(), 'patchlens-cli-out-'));
  for (const [name, bytes] of randomGPT2CheckpointFiles(MODEL, { seed: 7 })) {
    await writeFile(join(folder, name), bytes);
  }
});

describe('patchlens patch', () => {
  const base = () => ['patch', '--model', folder, '--backend', 'cpu'];

  it('writes the JSON layout of the spec, with values equal to the library sweep', async () => {
    const before = tf.memory().numTensors;
    const { code, stdout, stderr } = await run([...base(), ...ID_PROMPT_ARGS]);
    expect(stderr).toContain('backend: cpu');
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const json = JSON.parse(stdout);
    expect(json.model).toEqual({ nLayers: 2, nHeads: 2, dModel: 8, dVocab: 50257, nCtx: 32 });
    expect(json.backend).toBe('cpu');
    expect(json.tokens).toEqual({
      clean: [[50256, 1722, 5335, 290]],
      corrupted: [[50256, 1722, 1757, 290]],
    });
    expect(json.metric.name).toBe('logit-diff');
    expect(Object.keys(json.patches)).toEqual(['resid_pre', 'attn_head_out_all_pos']);
    const resid = json.patches.resid_pre;
    expect(resid.axes).toEqual(['layer', 'pos']);
    expect(resid.shape).toEqual([2, 4]);
    expect(resid.values).toHaveLength(8);
    expect(resid.ms).toBeGreaterThan(0);
    expect(json.patches.attn_head_out_all_pos.shape).toEqual([2, 2]);

    // The same sweep called through the library on an independently loaded model.
    const model = await loadGPT2FromFolder(folder);
    const clean = tf.tensor2d([[50256, 1722, 5335, 290]], undefined, 'int32');
    const corrupted = tf.tensor2d([[50256, 1722, 1757, 290]], undefined, 'int32');
    const metric = logitDiff({ answers: 5335, wrong: 1757 });
    using prepared = await preparePatching(model, clean, corrupted, metric);
    const expected = await getActPatchResidPre(model, corrupted, prepared.cleanCache, metric, {
      engine: 'reference',
    });
    expect(json.metric.clean).toBeCloseTo(prepared.clean, 5);
    expect(json.metric.corrupted).toBeCloseTo(prepared.corrupted, 5);
    resid.values.forEach((value: number, index: number) => {
      expect(value).toBeCloseTo(expected.values[index]!, 5);
    });
    // Patching the whole residual stream at layer 0, position of the changed name, restores the clean run.
    expect(resid.values[2]).toBeCloseTo(prepared.clean, 4);
    tf.dispose([clean, corrupted]);
    model.dispose();
  });

  it('tokenises text prompts with BOS, reads TOKEN answers, and normalises the metric', async () => {
    const { code, stdout } = await run([
      ...base(),
      '--clean',
      CLEAN,
      '--corrupted',
      CORRUPTED,
      '--answer',
      ' Mary',
      '--wrong',
      ' John',
      '--metric',
      'normalized-logit-diff',
      '--patch',
      'resid_pre',
      '--engine',
      'reference',
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.tokens.clean[0][0]).toBe(50256);
    expect(json.tokens.clean[0]).toHaveLength(15);
    expect(json.metric.name).toBe('normalized-logit-diff');
    const { values, shape } = json.patches.resid_pre;
    expect(shape).toEqual([2, 15]);
    expect(values.every((value: number) => Number.isFinite(value))).toBe(true);
    // BOS is the same token in both prompts: patching it at layer 0 changes nothing (normalised 0).
    expect(values[0]).toBeCloseTo(0, 5);
  });

  it('runs a batch with one answer per prompt, and the fast engine equals the reference', async () => {
    const argv = [
      ...base(),
      '--clean',
      CLEAN,
      '--corrupted',
      CORRUPTED,
      '--clean',
      CORRUPTED,
      '--corrupted',
      CLEAN,
      '--answer',
      ' Mary',
      '--answer',
      ' John',
      '--wrong',
      ' John',
      '--wrong',
      ' Mary',
      '--patch',
      'attn_head_out_by_pos,block_every',
    ];
    const fast = JSON.parse((await run(argv)).stdout);
    const reference = JSON.parse((await run([...argv, '--engine', 'reference'])).stdout);
    expect(fast.tokens.clean).toHaveLength(2);
    for (const name of ['attn_head_out_by_pos', 'block_every']) {
      expect(fast.patches[name].shape).toEqual(reference.patches[name].shape);
      fast.patches[name].values.forEach((value: number, index: number) => {
        expect(value).toBeCloseTo(reference.patches[name].values[index], 4);
      });
    }
    expect(fast.patches.block_every.axes).toEqual(['activation', 'layer', 'pos']);
  });

  it('writes CSV, Arrow and SVG heatmaps', async () => {
    const common = [...base(), ...ID_PROMPT_ARGS];
    const csvPath = join(output, 'r.csv');
    const svgDirectory = join(output, 'svg');
    expect((await run([...common, '--out', csvPath, '--svg', svgDirectory])).code).toBe(0);
    const csv = (await readFile(csvPath, 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('patch,layer,pos,head,value');
    expect(csv).toHaveLength(1 + 8 + 4);
    expect(csv[1]).toMatch(/^resid_pre,0,0,,/);
    for (const name of ['resid_pre', 'attn_head_out_all_pos']) {
      const svg = await readFile(join(svgDirectory, `${name}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
    }
    const arrowPath = join(output, 'r.arrow');
    expect((await run([...common, '--out', arrowPath])).code).toBe(0);
    const table = fromArrow(await readFile(arrowPath));
    expect(table.numRows()).toBe(12);
    expect(table.columnNames()).toEqual(['patch', 'layer', 'pos', 'head', 'value']);
  });

  it.each([
    [
      ['--clean', 'a b', '--corrupted', 'a'],
      /prompt 0 has \d+ clean tokens .* but \d+ corrupted tokens/,
    ],
    [
      ['--clean', CLEAN, '--corrupted', CORRUPTED, '--answer', ' Mary and', '--wrong', ' John'],
      /--answer/,
    ],
    [
      [
        '--clean',
        CLEAN,
        '--corrupted',
        CORRUPTED,
        '--answer',
        ' Mary',
        '--wrong',
        ' John',
        '--patch',
        'resid_pr',
      ],
      /resid_pre/,
    ],
    [
      [
        '--clean',
        CLEAN,
        '--corrupted',
        CORRUPTED,
        '--answer',
        ' Mary',
        '--wrong',
        ' John',
        '--out',
        'r.txt',
      ],
      /\.json, \.csv or \.arrow/,
    ],
    [['--clean', CLEAN, '--clean-ids', '1,2'], /either as text .* or as ids/],
    [
      ['--clean-ids', '1,x', '--corrupted-ids', '1,2', '--answer', '1', '--wrong', '2'],
      /not a comma-separated list of token ids/,
    ],
    [
      ['--clean-ids', '1,60000', '--corrupted-ids', '1,2', '--answer', '1', '--wrong', '2'],
      /60000/,
    ],
    [
      [
        '--clean',
        CLEAN,
        '--corrupted',
        CORRUPTED,
        '--answer',
        ' Mary',
        '--wrong',
        ' John',
        '--metric',
        'kl',
      ],
      /--metric "kl"/,
    ],
    [['--bogus'], /bogus/],
    [
      [
        '--clean-ids',
        '1,2',
        '--corrupted-ids',
        '1,3',
        '--answer',
        '1',
        '--wrong',
        '2',
        '--workers',
        '0',
      ],
      /--workers "0" is not a positive integer or auto/,
    ],
    [
      [
        '--clean-ids',
        '1,2',
        '--corrupted-ids',
        '1,3',
        '--answer',
        '1',
        '--wrong',
        '2',
        '--memory-budget',
        '0.0001',
      ],
      /memory budget is 0 MiB; raise memoryBudgetBytes \(--memory-budget\)/,
    ],
  ])('exits 2 with one clear line for bad input %#', async (extra, message) => {
    const before = tf.memory().numTensors;
    const { code, stderr } = await run([...base(), ...extra]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((line) => !/^(backend|loading weights)/.test(line)),
    ).toHaveLength(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('exits 2 without --model, for an unknown backend and for an unknown command', async () => {
    expect((await run(['patch', '--clean', 'a'])).stderr).toMatch(/--model is required/);
    expect((await run(['patch', '--model', folder, '--backend', 'gpu'])).code).toBe(2);
    expect((await run(['train'])).code).toBe(2);
    expect((await run(['patch', '--model', join(output, 'missing')])).code).toBe(2);
  });
});

describe('patchlens cache', () => {
  it('writes the selected activations and the logits as F32 safetensors', async () => {
    const out = join(output, 'cache.safetensors');
    const before = tf.memory().numTensors;
    const { code } = await run([
      'cache',
      '--model',
      folder,
      '--backend',
      'cpu',
      '--text',
      CLEAN,
      '--names',
      'blocks.0.hook_resid_pre,z1',
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const file = await readSafetensorsFile(out);
    expect([...file.tensors.keys()].sort()).toEqual([
      'blocks.0.hook_resid_pre',
      'blocks.1.attn.hook_z',
      'logits',
    ]);
    const model: GPT2 = await loadGPT2FromFolder(folder);
    const { logits, cache } = model.runWithCache(model.toTokens(CLEAN));
    const z = file.tensors.get('blocks.1.attn.hook_z')!;
    expect(z.dtype).toBe('F32');
    expect(z.shape).toEqual([1, 15, 2, 4]);
    const expectedZ = cache.get('blocks.1.attn.hook_z').dataSync();
    z.data.forEach((value, index) => {
      expect(value).toBeCloseTo(expectedZ[index]!, 5);
    });
    expect(file.tensors.get('logits')!.shape).toEqual([1, 15, 50257]);
    cache.dispose();
    logits.dispose();
    model.dispose();
    expect((await stat(out)).size).toBeGreaterThan(15 * 50257 * 4);
  });

  it('writes every activation by default, and exits 2 without --out', async () => {
    const out = join(output, 'all.safetensors');
    const ok = await run([
      'cache',
      '--model',
      folder,
      '--backend',
      'cpu',
      '--ids',
      '50256,1722',
      '--out',
      out,
    ]);
    expect(ok.code).toBe(0);
    const file = await readSafetensorsFile(out);
    // hook_embed, hook_pos_embed, 17 hooks per block (no hook_result), ln_final's two,
    // unembed.hook_in and hook_out, logits
    expect(file.tensors.size).toBe(2 + 2 * 17 + 2 + 2 + 1);
    const bad = await run(['cache', '--model', folder, '--ids', '1,2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--out FILE\.safetensors is required/);
  });
});
