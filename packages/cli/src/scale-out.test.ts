import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '@patchlens/backends/node';
import { randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import { fromArrow } from 'arquero';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseShardOption } from './shard-option.js';
import { runCli } from './test-support/run-cli.js';

/** A tiny GPT-2 with the real vocabulary (as in cli.test.ts). */
const MODEL = { nLayers: 2, nHeads: 2, dModel: 8, dVocab: 50257, nCtx: 32 };
const PROMPTS = [
  '--clean-ids',
  '50256,1722,5335,290,11,12',
  '--corrupted-ids',
  '50256,1722,1757,290,11,12',
  '--answer',
  '5335',
  '--wrong',
  '1757',
];
const SWEEPS = ['--patch', 'resid_pre,attn_head_out_by_pos,block_every'];
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'packages', 'cli', 'src', 'bin.ts');

let folder: string;
let otherFolder: string;
let output: string;

/** `patchlens ARGS` in its own Node process (TypeScript sources through tsx's loader, one process). */
function start(argv: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--conditions=source', BIN, ...argv], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

const patchArgs = (model = folder) => ['patch', '--model', model, '--backend', 'cpu'];

async function readJson(path: string) {
  return JSON.parse(await readFile(path, 'utf8'));
}

/** Largest |a - b| over every sweep's values (null counts as a difference). */
function maxDifference(a: { patches: object }, b: { patches: object }): number {
  const left = a.patches as Record<string, { values: number[] }>;
  const right = b.patches as Record<string, { values: number[] }>;
  expect(Object.keys(right)).toEqual(Object.keys(left));
  let largest = 0;
  for (const [name, { values }] of Object.entries(left)) {
    expect(right[name]!.values).toHaveLength(values.length);
    values.forEach((value, flat) => {
      const other = right[name]!.values[flat];
      largest = Math.max(
        largest,
        other === null ? Number.POSITIVE_INFINITY : Math.abs(value - other!),
      );
    });
  }
  return largest;
}

beforeAll(async () => {
  await initNodeBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'patchlens-shard-model-'));
  otherFolder = await mkdtemp(join(tmpdir(), 'patchlens-shard-other-'));
  output = await mkdtemp(join(tmpdir(), 'patchlens-shard-out-'));
  for (const [name, bytes] of randomGPT2CheckpointFiles(MODEL, { seed: 7 })) {
    await writeFile(join(folder, name), bytes);
  }
  for (const [name, bytes] of randomGPT2CheckpointFiles(MODEL, { seed: 8 })) {
    await writeFile(join(otherFolder, name), bytes);
  }
});

describe('patchlens patch --shard i/n and patchlens merge', () => {
  let full: { patches: Record<string, { values: number[] }> };
  beforeAll(async () => {
    const { code, stdout } = await runCli([...patchArgs(), ...PROMPTS, ...SWEEPS]);
    expect(code).toBe(0);
    full = JSON.parse(stdout);
  });

  it('for n = 1, 2, 3, 7 the merged parts equal the unsharded run, as JSON, CSV, Arrow and SVG', async () => {
    for (const count of [1, 2, 3, 7]) {
      const parts: string[] = [];
      for (let index = 0; index < count; index++) {
        const part = join(output, `n${count}-${index}.json`);
        const before = tf.memory().numTensors;
        const { code } = await runCli([
          ...patchArgs(),
          ...PROMPTS,
          ...SWEEPS,
          '--shard',
          `${index}/${count}`,
          '--out',
          part,
        ]);
        expect(code).toBe(0);
        expect(tf.memory().numTensors).toBe(before);
        parts.push(part);
      }
      // shards in any order
      const { code, stdout } = await runCli(['merge', ...[...parts].reverse()]);
      expect(code).toBe(0);
      expect(maxDifference(full, JSON.parse(stdout))).toBeLessThanOrEqual(1e-6);
    }
    const parts = [0, 1].map((index) => join(output, `n2-${index}.json`));
    const svg = join(output, 'svg');
    const csvPath = join(output, 'merged.csv');
    expect((await runCli(['merge', ...parts, '--out', csvPath, '--svg', svg])).code).toBe(0);
    const csv = (await readFile(csvPath, 'utf8')).trim().split('\n');
    expect(csv[0]!.startsWith('patch,layer,pos,head,activation,value,')).toBe(true);
    expect(csv[1]!.startsWith('resid_pre,0,0,,,')).toBe(true);
    expect(Number(csv[1]!.split(',')[5])).toBeCloseTo(full.patches.resid_pre!.values[0]!, 6);
    expect((await readdir(svg)).sort()).toEqual([
      'attn_head_out_by_pos.svg',
      'block_every.svg',
      'resid_pre.svg',
    ]);
    const arrowPath = join(output, 'merged.arrow');
    expect((await runCli(['merge', ...parts, '--out', arrowPath])).code).toBe(0);
    const table = fromArrow(await readFile(arrowPath));
    expect(table.numRows()).toBe(2 * 6 + 2 * 6 * 2 + 3 * 2 * 6);
  });

  describe('merge refuses, with exit 2 and the files named', () => {
    const part = (name: string) => join(output, `refuse-${name}.json`);
    beforeAll(async () => {
      const write = async (name: string, extra: string[], model = folder) => {
        const { code } = await runCli([...patchArgs(model), ...extra, '--out', part(name)]);
        expect(code).toBe(0);
      };
      for (const index of [0, 1, 2])
        await write(`${index}`, [...PROMPTS, ...SWEEPS, '--shard', `${index}/3`]);
      const otherTokens = PROMPTS.map((arg) =>
        arg === '50256,1722,1757,290,11,12' ? '50256,1722,1757,290,11,13' : arg,
      );
      await write('tokens', [...otherTokens, ...SWEEPS, '--shard', '1/3']);
      await write('metric', [
        ...PROMPTS,
        ...SWEEPS,
        '--metric',
        'normalized-logit-diff',
        '--shard',
        '1/3',
      ]);
      await write('sweeps', [...PROMPTS, '--patch', 'resid_pre', '--shard', '1/3']);
      await write('model', [...PROMPTS, ...SWEEPS, '--shard', '1/3'], otherFolder);
      await write('count', [...PROMPTS, ...SWEEPS, '--shard', '1/2']);
      await write('full', [...PROMPTS, ...SWEEPS]);
    });

    async function refused(files: string[], message: RegExp) {
      const { code, stdout, stderr } = await runCli([
        'merge',
        ...files,
        '--out',
        join(output, 'never.json'),
      ]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
      await expect(readFile(join(output, 'never.json'))).rejects.toThrow(/ENOENT/);
    }
    const other = (name: string, field: string) =>
      [
        [part('0'), part(name), part('2')],
        new RegExp(
          `refuse-0\\.json and .*refuse-${name}\\.json are parts of different runs \\(${field}`,
        ),
      ] as const;

    it.each([
      ['tokens', 'their tokens differs'],
      ['metric', 'their metric differs'],
      ['sweeps', 'their sweeps differs'],
      ['model', 'their checkpoint differs'],
      ['count', 'one is split into 3 shards, the other into 2'],
    ])('parts of different runs: %s', async (name, field) => {
      const [files, message] = other(name, field);
      await refused([...files], message);
    });

    it('a missing shard', async () => {
      await refused(
        [part('0'), part('2')],
        /shard 1 of 3 missing \(got .*refuse-0\.json = shard 0, .*refuse-2\.json = shard 2\)/,
      );
    });

    it('a duplicated shard', async () => {
      const copy = join(output, 'refuse-1-copy.json');
      await copyFile(part('1'), copy);
      await refused(
        [part('0'), part('1'), copy, part('2')],
        /shard 1\/3 is given twice \(.*refuse-1\.json and .*refuse-1-copy\.json\)/,
      );
    });

    it('overlapping indices', async () => {
      const document = await readJson(part('1'));
      const first = (await readJson(part('0'))).shard.indices.resid_pre[0];
      document.shard.indices.resid_pre.unshift(first);
      document.patches.resid_pre.values[first] = 0.5;
      const overlapping = join(output, 'refuse-overlap.json');
      await writeFile(overlapping, JSON.stringify(document));
      await refused(
        [part('0'), overlapping, part('2')],
        new RegExp(`refuse-0\\.json and .*refuse-overlap\\.json both hold flat index ${first}`),
      );
    });

    it('a file that is not a shard, or not JSON, and no files', async () => {
      await refused(
        [part('0'), part('full')],
        /refuse-full\.json is not a shard of a patchlens patch run/,
      );
      const broken = join(output, 'refuse-broken.json');
      await writeFile(broken, '{"model": ');
      await refused([broken], /cannot read .*refuse-broken\.json as JSON/);
      await refused([], /give the part files/);
    });
  });
});

describe('patchlens patch --shard auto', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of [
      'JOB_COMPLETION_INDEX',
      'SLURM_ARRAY_TASK_ID',
      'SLURM_ARRAY_TASK_MIN',
      'SLURM_ARRAY_TASK_COUNT',
      'SLURM_ARRAY_TASK_STEP',
    ]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('reads a Kubernetes Indexed Job: JOB_COMPLETION_INDEX, n from --shards', async () => {
    expect(parseShardOption('auto', '4', { JOB_COMPLETION_INDEX: '3' })).toEqual({
      index: 3,
      count: 4,
    });
    expect(() => parseShardOption('auto', undefined, { JOB_COMPLETION_INDEX: '3' })).toThrow(
      /needs --shards N/,
    );
    expect(() => parseShardOption('auto', '3', { JOB_COMPLETION_INDEX: '3' })).toThrow(
      /shard 3 of 3; a shard i\/n needs 0 <= i < n/,
    );
    process.env['JOB_COMPLETION_INDEX'] = '2';
    const { code, stdout } = await runCli([
      ...patchArgs(),
      ...PROMPTS,
      '--patch',
      'resid_pre',
      '--shard',
      'auto',
      '--shards',
      '3',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).shard).toMatchObject({ index: 2, count: 3 });
  });

  it('reads a Slurm job array: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT', async () => {
    const slurm = {
      SLURM_ARRAY_TASK_ID: '5',
      SLURM_ARRAY_TASK_MIN: '4',
      SLURM_ARRAY_TASK_COUNT: '3',
    };
    expect(parseShardOption('auto', undefined, slurm)).toEqual({ index: 1, count: 3 });
    expect(
      parseShardOption('auto', undefined, {
        SLURM_ARRAY_TASK_ID: '0',
        SLURM_ARRAY_TASK_COUNT: '7',
      }),
    ).toEqual({ index: 0, count: 7 });
    // --array=0-8:4 -> tasks 0, 4, 8
    expect(
      parseShardOption('auto', undefined, {
        SLURM_ARRAY_TASK_ID: '8',
        SLURM_ARRAY_TASK_MIN: '0',
        SLURM_ARRAY_TASK_STEP: '4',
        SLURM_ARRAY_TASK_COUNT: '3',
      }),
    ).toEqual({ index: 2, count: 3 });
    expect(() => parseShardOption('auto', undefined, { SLURM_ARRAY_TASK_ID: '2' })).toThrow(
      /needs SLURM_ARRAY_TASK_COUNT/,
    );
    Object.assign(process.env, slurm);
    const { code, stdout } = await runCli([
      ...patchArgs(),
      ...PROMPTS,
      '--patch',
      'resid_pre',
      '--shard',
      'auto',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).shard).toMatchObject({ index: 1, count: 3 });
  });

  it('exits 2 without a scheduler, for malformed values, and for a shard written as CSV or drawn as SVG', async () => {
    delete process.env['JOB_COMPLETION_INDEX'];
    delete process.env['SLURM_ARRAY_TASK_ID'];
    const cases: [string[], RegExp][] = [
      [['--shard', 'auto'], /--shard auto found no scheduler in the environment/],
      [['--shard', '3/3'], /shard 3 of 3/],
      [['--shard', 'two'], /--shard "two" is not i\/n/],
      [['--shard', '0/2', '--shards', '2'], /--shards N goes with --shard auto only/],
      [
        ['--shard', '0/2', '--out', join(output, 'x.csv')],
        /--shard writes a partial result as JSON/,
      ],
      [['--shard', '0/2', '--svg', output], /--svg draws complete results/],
    ];
    for (const [extra, message] of cases) {
      const { code, stderr } = await runCli([
        ...patchArgs(),
        ...PROMPTS,
        '--patch',
        'resid_pre',
        ...extra,
      ]);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});

describe('patchlens patch --checkpoint', () => {
  it('a run killed (SIGKILL) mid-sweep and run again equals the uninterrupted run', async () => {
    const args = [...patchArgs(), ...PROMPTS, '--patch', 'all'];
    const checkpoint = join(output, 'run.checkpoint');
    const child = start([
      ...args,
      '--checkpoint',
      checkpoint,
      '--out',
      join(output, 'killed.json'),
    ]);
    const ended = exited(child);
    let records = 0;
    let finished = false;
    void ended.then(() => {
      finished = true;
    });
    // kill once a few batches are on disk
    while (!finished && records < 4) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      records = (await readFile(checkpoint, 'utf8').catch(() => '')).split('\n').length - 2;
    }
    child.kill('SIGKILL');
    expect(await ended).toEqual({ code: null, signal: 'SIGKILL' });
    const kept = (await readFile(checkpoint, 'utf8')).split('\n');
    // every complete line is a batch; at most the last line is torn
    for (const line of kept.slice(1, -1)) expect(() => JSON.parse(line)).not.toThrow();
    const stored = kept
      .slice(1, -1)
      .reduce((sum, line) => sum + (JSON.parse(line) as { indices: number[] }).indices.length, 0);
    expect(stored).toBeGreaterThan(0);

    const resumed = join(output, 'resumed.json');
    const again = await runCli([...args, '--checkpoint', checkpoint, '--out', resumed]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`checkpoint: ${checkpoint} holds ${stored} values; resuming`);
    const uninterrupted = await runCli(args);
    const expected = JSON.parse(uninterrupted.stdout);
    const total = Object.values(expected.patches as Record<string, { values: number[] }>).reduce(
      (sum, entry) => sum + entry.values.length,
      0,
    );
    expect(stored).toBeLessThan(total); // it was killed mid-sweep
    expect(maxDifference(expected, await readJson(resumed))).toBeLessThanOrEqual(1e-6);
    // a checkpoint of another run is refused, leaking nothing
    const before = tf.memory().numTensors;
    const other = await runCli([
      ...patchArgs(),
      ...PROMPTS,
      '--patch',
      'resid_pre',
      '--checkpoint',
      checkpoint,
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/belongs to a different run \(its sweeps differs\)/);
    expect(tf.memory().numTensors).toBe(before);
    const missingFolder = await runCli([
      ...patchArgs(),
      ...PROMPTS,
      '--patch',
      'resid_pre',
      '--checkpoint',
      join(output, 'no-such-folder', 'run.checkpoint'),
    ]);
    expect(missingFolder.code).toBe(2);
    expect(missingFolder.stderr).toMatch(/cannot create --checkpoint .* its folder must exist/);
  });
});
