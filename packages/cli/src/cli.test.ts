import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@patchlens/backends/node';
import { type GPT2, randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import {
  getActPatchResidPre,
  logitDiff,
  PATCHING_FUNCTION_NAMES,
  preparePatching,
} from '@patchlens/patching';
import { readSafetensorsFile } from '@patchlens/safetensors/node';
import * as tf from '@tensorflow/tfjs-core';
import { fromArrow } from 'arquero';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

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
/** A checkpoint whose config.json has n_embd 8 and n_head 3. */
let badConfigFolder: string;

beforeAll(async () => {
  await initNodeBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'patchlens-cli-model-'));
  output = await mkdtemp(join(tmpdir(), 'patchlens-cli-out-'));
  badConfigFolder = await mkdtemp(join(tmpdir(), 'patchlens-cli-bad-config-'));
  for (const [name, bytes] of randomGPT2CheckpointFiles(MODEL, { seed: 7 })) {
    await writeFile(join(folder, name), bytes);
    await writeFile(join(badConfigFolder, name), bytes);
  }
  const config = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8'));
  await writeFile(join(badConfigFolder, 'config.json'), JSON.stringify({ ...config, n_head: 3 }));
  await writeFile(join(output, 'a-file.txt'), 'not a folder');
  await mkdir(join(output, 'existing-dir.json'));
  await mkdir(join(output, 'existing-dir.safetensors'));
  await mkdir(join(output, 'svg-blocked', 'resid_pre.svg'), { recursive: true });
});

describe('patchlens patch', () => {
  const base = () => ['patch', '--model', folder, '--backend', 'cpu'];

  it('writes the JSON layout of the spec, with values equal to the library sweep', async () => {
    const before = tf.memory().numTensors;
    const { code, stdout, stderr } = await runCli([...base(), ...ID_PROMPT_ARGS]);
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
    const { code, stdout } = await runCli([
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
    const fast = JSON.parse((await runCli(argv)).stdout);
    const reference = JSON.parse((await runCli([...argv, '--engine', 'reference'])).stdout);
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
    expect((await runCli([...common, '--out', csvPath, '--svg', svgDirectory])).code).toBe(0);
    const csv = (await readFile(csvPath, 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('patch,layer,pos,head,value,token,metric_clean,metric_corrupted');
    expect(csv).toHaveLength(1 + 8 + 4);
    const json = JSON.parse((await runCli(common)).stdout);
    // position 2 of the clean prompt is " Mary" (id 5335); head rows have no position and no token
    expect(csv[3]).toMatch(/^resid_pre,0,2,,[^,]+, Mary,/);
    const [cleanColumn, corruptedColumn] = csv[3]!.split(',').slice(-2).map(Number);
    expect(cleanColumn).toBeCloseTo(json.metric.clean, 5);
    expect(corruptedColumn).toBeCloseTo(json.metric.corrupted, 5);
    expect(csv[9]).toMatch(/^attn_head_out_all_pos,0,,0,[^,]+,,/);
    for (const name of ['resid_pre', 'attn_head_out_all_pos']) {
      const svg = await readFile(join(svgDirectory, `${name}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
    }
    // heatmaps are normalised by the run's own baselines and drawn on the fixed -1..1 scale
    const svg = await readFile(join(svgDirectory, 'resid_pre.svg'), 'utf8');
    const { clean, corrupted } = json.metric as { clean: number; corrupted: number };
    expect(svg).toContain(
      `clean logit diff ${clean.toPrecision(4)}, corrupted ${corrupted.toPrecision(4)}`,
    );
    const legend = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
    expect(legend).toEqual(expect.arrayContaining(['−1', '0', '1']));
    // the cell of the changed position at layer 0 restores the clean run: normalised value 1
    const cellOf = (text: string, label: string) =>
      text.match(
        new RegExp(
          `aria-label="(?=[^"]*\\bpos: 2;)(?=[^"]*\\blayer: 0;)[^"]*; ${label}: ([-\\d.e]+)"`,
        ),
      );
    const cell = cellOf(svg, 'restored');
    expect(Number(cell![1])).toBeCloseTo(1, 4);
    // --svg-values raw: the metric's own values, white at the corrupted baseline
    const rawDirectory = join(output, 'svg-raw');
    expect((await runCli([...common, '--svg', rawDirectory, '--svg-values', 'raw'])).code).toBe(0);
    const raw = await readFile(join(rawDirectory, 'resid_pre.svg'), 'utf8');
    expect(raw).toContain('raw logit-diff, white = the corrupted run');
    const rawCell = cellOf(raw, 'logit-diff');
    expect(Number(rawCell![1])).toBeCloseTo(clean, 3);
    const arrowPath = join(output, 'r.arrow');
    expect((await runCli([...common, '--out', arrowPath])).code).toBe(0);
    const table = fromArrow(await readFile(arrowPath));
    expect(table.numRows()).toBe(12);
    expect(table.columnNames()).toEqual([
      'patch',
      'layer',
      'pos',
      'head',
      'value',
      'token',
      'metric_clean',
      'metric_corrupted',
    ]);
    expect(table.array('token')[2]).toBe(' Mary');
  });

  it('merges repeated --patch flags', async () => {
    const { code, stdout } = await runCli([
      ...base(),
      ...ID_PROMPT_ARGS.slice(0, -2),
      '--patch',
      'resid_pre',
      '--patch',
      'attn_out,resid_pre',
    ]);
    expect(code).toBe(0);
    expect(Object.keys(JSON.parse(stdout).patches)).toEqual(['resid_pre', 'attn_out']);
  });
});

describe('patchlens cache', () => {
  it('writes the selected activations and the logits as F32 safetensors', async () => {
    const out = join(output, 'cache.safetensors');
    const before = tf.memory().numTensors;
    const { code } = await runCli([
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
    const ok = await runCli([
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
    const bad = await runCli(['cache', '--model', folder, '--ids', '1,2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--out FILE\.safetensors is required/);
  });
});

/** Prompts and answers given as text, valid on their own. */
const TEXT_ARGS = [
  '--clean',
  CLEAN,
  '--corrupted',
  CORRUPTED,
  '--answer',
  ' Mary',
  '--wrong',
  ' John',
];
const LONG_PROMPT = 'one two three four five six seven eight nine ten '.repeat(4);

/**
 * Every rejected command line: arguments (paths relative to the output folder are resolved by
 * `at`), the message it must print, and whether the check must come before the model is loaded
 * (no "backend:" line). Paths named in `absent` must not exist afterwards (nothing half-written).
 */
const BAD_INPUTS: readonly {
  readonly label: string;
  readonly argv: (at: (path: string) => string) => string[];
  readonly message: RegExp;
  readonly beforeModel: boolean;
  readonly absent?: string;
}[] = [
  {
    label: 'unknown command',
    argv: () => ['train'],
    message:
      /^patchlens: unknown command "train"; the commands are patch, path, cache, attribute, analyze, merge \(patchlens --help\)/,
    beforeModel: true,
  },
  {
    label: 'no --model',
    argv: () => ['patch', '--clean', 'a'],
    message: /^patchlens patch: --model is required/,
    beforeModel: true,
  },
  {
    label: 'unknown flag',
    argv: () => ['patch', '--model', folder, '--bogus'],
    message: /^patchlens patch: .*bogus.*patchlens patch --help/,
    beforeModel: true,
  },
  {
    label: '--workers 0',
    argv: () => ['patch', '--model', folder, '--workers', '0', ...TEXT_ARGS],
    message: /^patchlens patch: --workers "0" is not a positive integer or auto/,
    beforeModel: true,
  },
  {
    label: 'a memory budget the sweep cannot fit',
    argv: () => [
      'patch',
      '--model',
      folder,
      '--backend',
      'cpu',
      '--memory-budget',
      '0.0001',
      ...TEXT_ARGS,
    ],
    message: /memory budget is 0 MiB; raise memoryBudgetBytes \(--memory-budget\)/,
    beforeModel: false,
  },
  {
    label: 'unknown backend',
    argv: () => ['patch', '--model', folder, '--backend', 'gpu', ...TEXT_ARGS],
    message: /--backend "gpu" is not one of auto, tensorflow, (webgpu, )?wasm, cpu/,
    beforeModel: true,
  },
  {
    label: 'webgl in Node',
    argv: () => ['patch', '--model', folder, '--backend', 'webgl', ...TEXT_ARGS],
    message: /--backend webgl exists only in browsers/,
    beforeModel: true,
  },
  {
    // tfjs-node is not installed in this repository, so the backend cannot start
    label: 'a backend that is not installed',
    argv: () => ['patch', '--model', folder, '--backend', 'tensorflow', ...TEXT_ARGS],
    message:
      /^patchlens patch: --backend tensorflow could not start: .*npm i @tensorflow\/tfjs-node/,
    beforeModel: true,
  },
  {
    label: 'missing model folder',
    argv: (at) => ['patch', '--model', at('missing-model'), '--backend', 'cpu', ...TEXT_ARGS],
    message: /^patchlens patch: .*missing-model/m,
    beforeModel: false,
  },
  {
    label: 'config.json n_embd not divisible by n_head',
    argv: () => ['patch', '--model', badConfigFolder, '--backend', 'cpu', ...TEXT_ARGS],
    message: /^patchlens patch: config\.json's n_embd \(8\) must be divisible by n_head \(3\)/m,
    beforeModel: false,
  },
  {
    label: 'config.json error in cache',
    argv: (at) => [
      'cache',
      '--model',
      badConfigFolder,
      '--backend',
      'cpu',
      '--text',
      'a',
      '--out',
      at('bad.safetensors'),
    ],
    message: /^patchlens cache: .*n_embd \(8\)/m,
    beforeModel: false,
    absent: 'bad.safetensors',
  },
  {
    label: '--out format',
    argv: () => [...TEXT_ARGS, '--out', 'r.txt'],
    message: /--out "r\.txt" must end in \.json, \.csv or \.arrow/,
    beforeModel: true,
  },
  {
    label: '--out in a missing folder',
    argv: (at) => [...TEXT_ARGS, '--out', at('missing-dir/r.json')],
    message: /--out ".*missing-dir\/r\.json": the folder .*missing-dir does not exist/,
    beforeModel: true,
    absent: 'missing-dir',
  },
  {
    label: '--out is a folder',
    argv: (at) => [...TEXT_ARGS, '--out', at('existing-dir.json')],
    message: /--out ".*existing-dir\.json": this is a folder/,
    beforeModel: true,
  },
  {
    label: '--out under a file',
    argv: (at) => [...TEXT_ARGS, '--out', at('a-file.txt/r.json')],
    message: /a-file\.txt is a file, not a folder/,
    beforeModel: true,
  },
  {
    label: '--svg is a file',
    argv: (at) => [...TEXT_ARGS, '--svg', at('a-file.txt')],
    message: /--svg ".*a-file\.txt": this is a file; give a folder/,
    beforeModel: true,
  },
  {
    label: '--svg under a file',
    argv: (at) => [...TEXT_ARGS, '--svg', at('a-file.txt/svg')],
    message: /a-file\.txt is a file, not a folder/,
    beforeModel: true,
  },
  {
    label: '--svg file is a folder',
    argv: (at) => [
      ...TEXT_ARGS,
      '--patch',
      'resid_pre',
      '--out',
      at('blocked.json'),
      '--svg',
      at('svg-blocked'),
    ],
    message: /resid_pre\.svg is a folder/,
    beforeModel: true,
    absent: 'blocked.json',
  },
  {
    label: '--out twice',
    argv: (at) => [...TEXT_ARGS, '--out', at('a.json'), '--out', at('b.json')],
    message: /--out was given 2 times; give it once/,
    beforeModel: true,
  },
  {
    label: 'empty --patch entry',
    argv: () => [...TEXT_ARGS, '--patch', 'resid_pre,,attn_out'],
    message: /--patch "resid_pre,,attn_out" has an empty entry/,
    beforeModel: true,
  },
  {
    label: 'unknown sweep',
    argv: () => [...TEXT_ARGS, '--patch', 'resid_pr'],
    message: /unknown sweep "resid_pr"; did you mean "resid_pre"/,
    beforeModel: true,
  },
  {
    label: 'unknown metric',
    argv: () => [...TEXT_ARGS, '--metric', 'kl'],
    message: /--metric "kl" is not one of logit-diff, normalized-logit-diff/,
    beforeModel: true,
  },
  {
    label: 'unknown engine',
    argv: () => [...TEXT_ARGS, '--engine', 'slow'],
    message: /--engine "slow" is not one of fast, reference/,
    beforeModel: true,
  },
  {
    label: 'unknown --svg-values',
    argv: () => [...TEXT_ARGS, '--svg-values', 'log'],
    message: /--svg-values "log" is not one of normalized, raw/,
    beforeModel: true,
  },
  {
    label: 'empty prompts',
    argv: () => ['--clean', '', '--corrupted', '', '--answer', ' Mary', '--wrong', ' John'],
    message: /prompt 1's --clean is empty/,
    beforeModel: true,
  },
  {
    label: 'text and ids mixed',
    argv: () => ['--clean', CLEAN, '--clean-ids', '1,2'],
    message: /either as text .* or as ids/,
    beforeModel: true,
  },
  {
    label: 'malformed ids',
    argv: () => ['--clean-ids', '1,x', '--corrupted-ids', '1,2', '--answer', '1', '--wrong', '2'],
    message: /--clean-ids "1,x" is not a comma-separated list of token ids/,
    beforeModel: true,
  },
  {
    label: 'unpaired prompts',
    argv: () => [
      '--clean',
      CLEAN,
      '--clean',
      CLEAN,
      '--corrupted',
      CORRUPTED,
      '--answer',
      ' Mary',
      '--wrong',
      ' John',
    ],
    message: /got 2 --clean and 1 --corrupted/,
    beforeModel: true,
  },
  {
    label: 'different token counts',
    argv: () => ['--clean', 'a b', '--corrupted', 'a', '--answer', ' Mary', '--wrong', ' John'],
    message: /prompt 1 has \d+ clean tokens .* but \d+ corrupted tokens/,
    beforeModel: false,
  },
  {
    label: 'answer of two tokens',
    argv: () => [...TEXT_ARGS.slice(0, 4), '--answer', ' Mary and', '--wrong', ' John'],
    message: /--answer/,
    beforeModel: false,
  },
  {
    label: 'answer equals wrong',
    argv: () => [...TEXT_ARGS.slice(0, 4), '--answer', ' Mary', '--wrong', ' Mary'],
    message: /--answer and --wrong are the same token \(" Mary", id 5335\)/,
    beforeModel: false,
  },
  {
    label: 'answer equals wrong (id and text)',
    argv: () => [...TEXT_ARGS.slice(0, 4), '--answer', '5335', '--wrong', ' Mary'],
    message: /--answer and --wrong are the same token/,
    beforeModel: false,
  },
  {
    label: 'identical prompts',
    argv: () => ['--clean', CLEAN, '--corrupted', CLEAN, '--answer', ' Mary', '--wrong', ' John'],
    message: /the clean and corrupted prompts are the same tokens/,
    beforeModel: false,
  },
  {
    label: 'prompt longer than n_positions',
    argv: () => [
      '--clean',
      LONG_PROMPT,
      '--corrupted',
      LONG_PROMPT.replace('one', 'two'),
      '--answer',
      ' Mary',
      '--wrong',
      ' John',
    ],
    message:
      /prompt 1's --clean has \d+ tokens, more than the model's context of 32 positions \(n_positions in config\.json\)/,
    beforeModel: false,
  },
  {
    label: 'token id outside the vocabulary',
    argv: () => [
      '--clean-ids',
      '1,60000',
      '--corrupted-ids',
      '1,2',
      '--answer',
      '1',
      '--wrong',
      '2',
    ],
    message:
      /token id 60000, but the model's vocabulary \(vocab_size in config\.json\) has ids 0 to 50256/,
    beforeModel: false,
  },
  {
    label: 'answer id outside the vocabulary',
    argv: () => [...TEXT_ARGS.slice(0, 4), '--answer', '99999', '--wrong', ' John'],
    message: /--answer 99999 is not a token id of the model/,
    beforeModel: false,
  },
  {
    label: 'cache without --out',
    argv: () => ['cache', '--model', folder, '--ids', '1,2'],
    message: /^patchlens cache: --out FILE\.safetensors is required/,
    beforeModel: true,
  },
  {
    label: 'cache --out in a missing folder',
    argv: (at) => [
      'cache',
      '--model',
      folder,
      '--ids',
      '1,2',
      '--out',
      at('nowhere/a.safetensors'),
    ],
    message: /^patchlens cache: --out ".*nowhere\/a\.safetensors": the folder .* does not exist/,
    beforeModel: true,
    absent: 'nowhere',
  },
  {
    label: 'cache --out is a folder',
    argv: (at) => [
      'cache',
      '--model',
      folder,
      '--ids',
      '1,2',
      '--out',
      at('existing-dir.safetensors'),
    ],
    message: /^patchlens cache: .*this is a folder/,
    beforeModel: true,
  },
  {
    label: 'cache empty text',
    argv: (at) => ['cache', '--model', folder, '--text', '', '--out', at('c.safetensors')],
    message: /^patchlens cache: --text number 1 is empty/,
    beforeModel: true,
  },
  {
    label: 'cache empty --names entry',
    argv: (at) => [
      'cache',
      '--model',
      folder,
      '--ids',
      '1,2',
      '--names',
      'z1,,z0',
      '--out',
      at('c.safetensors'),
    ],
    message: /^patchlens cache: --names "z1,,z0" has an empty entry/,
    beforeModel: true,
  },
  {
    label: 'cache unknown hook name',
    argv: (at) => [
      'cache',
      '--model',
      folder,
      '--backend',
      'cpu',
      '--ids',
      '1,2',
      '--names',
      'zz9',
      '--out',
      at('c.safetensors'),
    ],
    message: /^patchlens cache: .*zz9/,
    beforeModel: true,
    absent: 'c.safetensors',
  },
];

describe('patchlens: bad input', () => {
  it.each(BAD_INPUTS)('$label: exit 2, one line, nothing written', async (entry) => {
    const at = (path: string) => join(output, path);
    const argv = entry.argv(at);
    const full =
      argv[0] === 'patch' || argv[0] === 'cache' || argv[0] === 'train'
        ? argv
        : ['patch', '--model', folder, '--backend', 'cpu', ...argv];
    const before = tf.memory().numTensors;
    const { code, stdout, stderr } = await runCli(full);
    expect(stderr).toMatch(entry.message);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr
      .trim()
      .split('\n')
      .filter((line) => !/^(backend: |loading weights)/.test(line));
    expect(lines).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    if (entry.beforeModel) expect(stderr).not.toMatch(/backend: /);
    if (entry.absent !== undefined) expect(existsSync(at(entry.absent))).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('patchlens --help', () => {
  it('lists the commands, and patch --help lists every sweep name and metric', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^\s+patch\s/m);
    expect(top.stdout).toMatch(/^\s+cache\s/m);
    const patch = await runCli(['patch', '--help']);
    expect(patch.code).toBe(0);
    for (const name of PATCHING_FUNCTION_NAMES)
      expect(patch.stdout).toMatch(new RegExp(`\\b${name}\\b`));
    for (const metric of ['logit-diff', 'normalized-logit-diff']) {
      expect(patch.stdout).toMatch(new RegExp(`^\\s+${metric}\\s`, 'm'));
    }
    expect((await runCli(['cache', '--help'])).stdout).toMatch(/--names/);
  });
});
