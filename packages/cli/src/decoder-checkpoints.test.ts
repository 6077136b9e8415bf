// `patchlens cache` and `patchlens patch --patch all` on Llama-architecture and GPT-NeoX Hugging Face
// folders (the TransformerLens fixtures' checkpoints): the numbers are TransformerLens's.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '@patchlens/backends/node';
import { readSafetensorsFile } from '@patchlens/safetensors/node';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectMatches } from '../../models-llama/src/test-support/transformerlens-fixture.js';
import { runCli } from './test-support/run-cli.js';

const FIXTURES = {
  llama: fileURLToPath(
    new URL('../../models-llama/test/fixtures/transformerlens/llama/', import.meta.url),
  ),
  neox: fileURLToPath(
    new URL('../../models-neox/test/fixtures/transformerlens/neox/', import.meta.url),
  ),
};

let output: string;
beforeAll(async () => {
  await initNodeBackend('cpu');
  output = await mkdtemp(join(tmpdir(), 'patchlens-cli-decoder-'));
});

describe.each(Object.entries(FIXTURES))('a %s Hugging Face folder', (family, folder) => {
  // processed weights (the CLI's default) = TransformerLens's from_pretrained
  const fixture = JSON.parse(readFileSync(join(folder, 'processed_b2.json'), 'utf8'));
  const ids = (rows: number[][]) => rows.flatMap((row) => ['--ids', row.join(',')]);

  it('patchlens cache writes every hook point equal to TransformerLens', async () => {
    const out = join(output, `${family}.safetensors`);
    const before = tf.memory().numTensors;
    const { code, stderr } = await runCli([
      'cache',
      '--model',
      join(folder, 'checkpoint'),
      '--backend',
      'cpu',
      ...ids(fixture.inputs.clean_tokens),
      '--out',
      out,
    ]);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const file = await readSafetensorsFile(out);
    for (const [name, reference] of Object.entries(fixture.clean_cache)) {
      const tensor = file.tensors.get(name);
      expect(tensor, name).toBeDefined();
      expectMatches(tensor!.data, reference as never, name);
    }
  });

  it('patchlens patch --patch all gives TransformerLens numbers (resid_mid only where it exists)', async () => {
    const { code, stdout } = await runCli([
      'patch',
      '--model',
      join(folder, 'checkpoint'),
      '--backend',
      'cpu',
      ...fixture.inputs.clean_tokens.flatMap((row: number[]) => ['--clean-ids', row.join(',')]),
      ...fixture.inputs.corrupted_tokens.flatMap((row: number[]) => [
        '--corrupted-ids',
        row.join(','),
      ]),
      '--answer',
      String(fixture.inputs.answer_token_A),
      '--wrong',
      String(fixture.inputs.answer_token_B),
      '--patch',
      'all',
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.metric.clean).toBeCloseTo(fixture.clean_metric, 4);
    expect(json.metric.corrupted).toBeCloseTo(fixture.corrupted_metric, 4);
    for (const [key, reference] of Object.entries(fixture.patching)) {
      const name = key.replace(/^get_act_patch_/, '');
      if ('error' in (reference as object)) {
        expect(json.patches[name], name).toBeUndefined();
        continue;
      }
      expect(json.patches[name]?.shape, name).toEqual((reference as { shape: number[] }).shape);
      expectMatches(json.patches[name].values, reference as never, name);
    }
  });
});

it('patchlens patch --patch resid_mid on a parallel-block model exits 2 with one line saying why', async () => {
  const { code, stderr } = await runCli([
    'patch',
    '--model',
    join(FIXTURES.neox, 'checkpoint'),
    '--backend',
    'cpu',
    '--clean-ids',
    '1,2,3',
    '--corrupted-ids',
    '1,4,3',
    '--answer',
    '5',
    '--wrong',
    '6',
    '--patch',
    'resid_mid',
  ]);
  expect(code).toBe(2);
  expect(stderr).toMatch(/no resid_mid/);
  expect(stderr).not.toMatch(/\n\s+at /);
});

it('a config.json of an unsupported family exits 2 naming architectures', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'patchlens-cli-bad-'));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(
    join(folder, 'config.json'),
    JSON.stringify({ architectures: ['FalconForCausalLM'], model_type: 'falcon' }),
  );
  const { code, stderr } = await runCli([
    'cache',
    '--model',
    folder,
    '--backend',
    'cpu',
    '--ids',
    '1,2',
    '--out',
    join(folder, 'x.safetensors'),
  ]);
  expect(code).toBe(2);
  expect(stderr).toMatch(/architectures/);
});

it('patchlens cache --model http(s)://… of a Llama-architecture folder gives TransformerLens numbers', async () => {
  const checkpoint = join(FIXTURES.llama, 'checkpoint');
  const server = createServer((request, response) => {
    const name = (request.url ?? '').split('/').pop()!;
    try {
      const body = readFileSync(join(checkpoint, name));
      response.writeHead(200, { 'content-length': body.length });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const fixture = JSON.parse(readFileSync(join(FIXTURES.llama, 'raw_b2.json'), 'utf8'));
    const out = join(output, 'llama-url.safetensors');
    const { code, stderr } = await runCli([
      'cache',
      '--model',
      `http://127.0.0.1:${port}/llama`,
      '--backend',
      'cpu',
      '--no-process-weights',
      ...fixture.inputs.clean_tokens.flatMap((row: number[]) => ['--ids', row.join(',')]),
      '--names',
      'blocks.1.attn.hook_rot_k,unembed.hook_out',
      '--out',
      out,
    ]);
    expect(code, stderr).toBe(0);
    const file = await readSafetensorsFile(out);
    for (const name of ['blocks.1.attn.hook_rot_k', 'unembed.hook_out']) {
      expectMatches(file.tensors.get(name)!.data, fixture.clean_cache[name], name);
    }
  } finally {
    server.close();
  }
});

it('patchlens attribute on a GPT-NeoX folder runs every kind but resid_mid; analyze says it supports GPT-2', async () => {
  const folder = join(FIXTURES.neox, 'checkpoint');
  const prompts = ['--clean-ids', '3,150,77,12,260', '--corrupted-ids', '3,150,77,13,260'];
  const answers = ['--answer', '41', '--wrong', '12'];
  const attribute = await runCli([
    'attribute',
    '--model',
    folder,
    '--backend',
    'cpu',
    ...prompts,
    ...answers,
  ]);
  expect(attribute.code, attribute.stderr).toBe(0);
  const kinds = Object.keys(JSON.parse(attribute.stdout).attributions);
  expect(kinds).toContain('attn_head_out_by_pos');
  expect(kinds).not.toContain('resid_mid');
  const analyze = await runCli([
    'analyze',
    '--model',
    folder,
    '--backend',
    'cpu',
    '--ids',
    '3,150,77,12,260',
    ...answers,
  ]);
  expect(analyze.code).toBe(2);
  expect(analyze.stderr).toMatch(/supports GPT-2/);
});
