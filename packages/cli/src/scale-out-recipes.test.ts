import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initNodeBackend } from '@patchlens/backends/node';
import { randomGPT2CheckpointFiles } from '@patchlens/models-gpt2';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runPatchlens } from './main.js';
import { parseShardOption } from './shard-option.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RECIPES = join(ROOT, 'docs', 'scale-out');
const recipe = (name: string) => readFile(join(RECIPES, name), 'utf8');

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface JobManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: {
      spec: {
        restartPolicy: string;
        containers: Container[];
        volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
      };
    };
  };
}

async function manifest(name: string): Promise<JobManifest> {
  const documents = parseAllDocuments(await recipe(name));
  expect(Array.isArray(documents)).toBe(true);
  const list = documents as Exclude<typeof documents, { empty: true }>;
  expect(list).toHaveLength(1);
  expect(list[0]!.errors).toEqual([]);
  return list[0]!.toJS() as JobManifest;
}

/** The fields of a batch/v1 Job this recipe relies on. */
function checkJob(job: JobManifest) {
  expect(job.apiVersion).toBe('batch/v1');
  expect(job.kind).toBe('Job');
  expect(job.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  const pod = job.spec.template.spec;
  expect(['Never', 'OnFailure']).toContain(pod.restartPolicy); // the only ones a Job accepts
  expect(pod.containers.length).toBeGreaterThan(0);
  const volumes = new Set((pod.volumes ?? []).map((volume) => volume.name));
  for (const container of pod.containers) {
    expect(typeof container.image).toBe('string');
    for (const mount of container.volumeMounts ?? []) expect(volumes.has(mount.name)).toBe(true);
  }
  return pod.containers[0]!;
}

describe('docs/scale-out recipes', () => {
  it('the Kubernetes Indexed Job runs --shard auto with --shards equal to its completions', async () => {
    const job = await manifest('kubernetes-sweep-job.yaml');
    const container = checkJob(job);
    expect(job.spec.completionMode).toBe('Indexed');
    const completions = job.spec.completions!;
    expect(Number.isInteger(completions) && completions > 0).toBe(true);
    const command = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    expect(command).toMatch(/patchlens patch /);
    const shards = /--shard auto --shards (\d+)/.exec(command);
    expect(Number(shards?.[1])).toBe(completions);
    // each pod's JOB_COMPLETION_INDEX 0..completions-1 is one shard of that many
    for (let index = 0; index < completions; index++) {
      expect(parseShardOption('auto', shards![1], { JOB_COMPLETION_INDEX: String(index) })).toEqual(
        { index, count: completions },
      );
    }
    expect(command).toContain('--out /results/shard-$JOB_COMPLETION_INDEX.json');
  });

  it('docs/scale-out.md links every recipe file', async () => {
    const guide = await readFile(join(ROOT, 'docs', 'scale-out.md'), 'utf8');
    for (const name of await readdir(RECIPES)) expect(guide).toContain(`(scale-out/${name})`);
  });

  it('the Kubernetes merge Job merges the shards the sweep job writes', async () => {
    const container = checkJob(await manifest('kubernetes-merge-job.yaml'));
    const command = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    expect(command).toContain('patchlens merge /results/shard-*.json --out /results/result.json');
  });

  it('the Slurm scripts pass bash -n; the array runs --shard auto over tasks 0..n-1', async () => {
    for (const name of ['slurm-sweep-array.sh', 'slurm-submit.sh', 'one-machine.sh']) {
      await run('bash', ['-n', join(RECIPES, name)]);
    }
    const script = await recipe('slurm-sweep-array.sh');
    const array = /^#SBATCH --array=0-(\d+)$/m.exec(script);
    expect(array).not.toBeNull();
    const count = Number(array![1]) + 1;
    expect(script).toMatch(/--shard auto \\\n/);
    for (let task = 0; task < count; task++) {
      expect(
        parseShardOption('auto', undefined, {
          SLURM_ARRAY_TASK_ID: String(task),
          SLURM_ARRAY_TASK_MIN: '0',
          SLURM_ARRAY_TASK_COUNT: String(count),
        }),
      ).toEqual({ index: task, count });
    }
    expect(await recipe('slurm-submit.sh')).toMatch(/--dependency="afterok:\$array_job"/);
  });

  describe('the one-machine recipe, run as written', () => {
    let folder: string;
    let results: string;
    let bin: string;
    beforeAll(async () => {
      await initNodeBackend('cpu');
      folder = await mkdtemp(join(tmpdir(), 'patchlens-recipe-model-'));
      results = await mkdtemp(join(tmpdir(), 'patchlens-recipe-results-'));
      bin = await mkdtemp(join(tmpdir(), 'patchlens-recipe-bin-'));
      const model = { nLayers: 2, nHeads: 2, dModel: 8, dVocab: 50257, nCtx: 32 };
      for (const [name, bytes] of randomGPT2CheckpointFiles(model, { seed: 7 })) {
        await writeFile(join(folder, name), bytes);
      }
      // `patchlens` on PATH: this checkout's sources, one Node process each
      const loader = import.meta.resolve('tsx');
      const shim = join(bin, 'patchlens');
      await writeFile(
        shim,
        [
          '#!/bin/sh',
          // the cpu backend, as in the in-process run it is compared with
          'if [ "$1" = patch ]; then shift; set -- patch --backend cpu "$@"; fi',
          `exec "${process.execPath}" --import "${loader}" --conditions=source "${join(ROOT, 'packages/cli/src/bin.ts')}" "$@"`,
          '',
        ].join('\n'),
      );
      await chmod(shim, 0o755);
      await mkdir(join(results, 'out'));
    });

    it('3 shards in separate processes, merged, equal the unsharded run', async () => {
      const sweeps = 'resid_pre,attn_head_out_by_pos,block_every';
      const out = join(results, 'out');
      await run('bash', [join(RECIPES, 'one-machine.sh')], {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env['PATH']}`,
          MODEL: folder,
          SHARDS: '3',
          RESULTS: out,
          PATCH: sweeps,
        },
      });
      // the partial file: the full layout, null outside its indices, the run's identity
      const part = JSON.parse(await readFile(join(out, 'shard-1.json'), 'utf8'));
      expect(part.shard).toMatchObject({ index: 1, count: 3 });
      expect(Object.keys(part.shard.indices)).toEqual(sweeps.split(','));
      const held = new Set<number>(part.shard.indices.resid_pre);
      part.patches.resid_pre.values.forEach((value: number | null, flat: number) => {
        expect(value === null).toBe(!held.has(flat));
      });
      expect(part.run.checkpoint).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(part.run).toMatchObject({
        processWeights: true,
        sweeps: sweeps.split(','),
        patchlens: expect.any(String),
      });
      expect(part.run.tokenStrings[0]).toBe('<|endoftext|>');

      const merged = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
      expect(merged.shard).toBeUndefined();
      let stdout = '';
      const io = {
        stdout: {
          write: (chunk: string | Uint8Array) => {
            stdout += String(chunk);
          },
        },
        stderr: { write: () => true, isTTY: false },
      };
      const script = await recipe('one-machine.sh');
      const text = (flag: string) => new RegExp(`--${flag} "([^"]+)"`).exec(script)![1]!;
      const code = await runPatchlens(
        [
          'patch',
          '--model',
          folder,
          '--backend',
          'cpu',
          '--clean',
          text('clean'),
          '--corrupted',
          text('corrupted'),
          '--answer',
          text('answer'),
          '--wrong',
          text('wrong'),
          '--patch',
          sweeps,
        ],
        io,
      );
      expect(code).toBe(0);
      const full = JSON.parse(stdout);
      for (const name of sweeps.split(',')) {
        const expected: number[] = full.patches[name].values;
        expect(merged.patches[name].values).toHaveLength(expected.length);
        merged.patches[name].values.forEach((value: number, flat: number) => {
          expect(Math.abs(value - expected[flat]!)).toBeLessThanOrEqual(1e-6);
        });
      }
      expect((await readFile(join(out, 'svg', 'resid_pre.svg'), 'utf8')).startsWith('<svg')).toBe(
        true,
      );
    });
  });
});
