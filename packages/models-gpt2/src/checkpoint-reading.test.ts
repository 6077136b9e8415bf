import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError, WeightMappingError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GPT2LoadProgress } from './checkpoint-reading.js';
import { readGPT2Checkpoint } from './checkpoint-reading.js';
import { GPT2 } from './gpt2.js';
import { loadGPT2FromFolder, readGPT2CheckpointFolder } from './node.js';
import { maxScaledError } from './test-support/compare.js';
import { referenceForward } from './test-support/reference-gpt2.js';
import {
  memoryFetch,
  TINY_CONFIG,
  type TinyCheckpointOptions,
  tinyCheckpointFiles,
  writeTinyCheckpoint,
} from './test-support/tiny-checkpoint.js';

const TOKENS = [[0, 5, 9, 13, 2, 44]];
const BASE = 'https://models.example/tiny-gpt2/';

/** The loaded model's unprocessed logits agree with the reference on the checkpoint's tensors. */
function expectReferenceLogits(model: GPT2, tensors: Parameters<typeof referenceForward>[1]): void {
  const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
  const logits = model.forward(tokens);
  const expected = referenceForward(TINY_CONFIG, tensors, TOKENS).logits;
  expect(maxScaledError(logits, expected)).toBeLessThan(1e-5);
  tf.dispose([tokens, logits]);
}

function asFiles(files: Map<string, Uint8Array>): File[] {
  return [...files].map(([name, bytes]) => new File([bytes.slice()], `picked/${name}`));
}

describe('reading Hugging Face checkpoints', () => {
  beforeAll(() => useBackend('cpu'));

  it.each<[string, TinyCheckpointOptions]>([
    ['plain names', {}],
    ['transformer. prefix and mask buffers', { prefix: true, maskBuffers: true }],
    ['sharded, with mask buffers', { sharded: true, maskBuffers: true }],
    ['untied lm_head.weight', { lmHead: true, prefix: true }],
  ])('loads a folder with %s', async (_label, options) => {
    const { folder, tensors } = await writeTinyCheckpoint(options);
    const progress: GPT2LoadProgress[] = [];
    const model = await loadGPT2FromFolder(folder, {
      processWeights: false,
      onProgress: (event) => progress.push(event),
    });
    expectReferenceLogits(model, tensors);
    expect(progress.length).toBeGreaterThan(0);
    model.dispose();
    const { tensors: read } = await readGPT2CheckpointFolder(folder);
    expect([...read.keys()].some((name) => /\.attn\.(bias|masked_bias)$/.test(name))).toBe(false);
  });

  it.each<[string, TinyCheckpointOptions]>([
    ['one file', { maskBuffers: true }],
    ['a sharded index', { sharded: true }],
  ])('loads from a URL with %s, reporting progress', async (_label, options) => {
    const { files, tensors } = tinyCheckpointFiles(options);
    const progress: GPT2LoadProgress[] = [];
    const model = await GPT2.fromPretrained(BASE, {
      fetch: memoryFetch(BASE, files),
      processWeights: false,
      onProgress: (event) => progress.push(event),
    });
    expectReferenceLogits(model, tensors);
    const last = progress.at(-1)!;
    expect(last.loadedBytes).toBe(last.totalBytes);
    expect(last.file.startsWith(BASE)).toBe(true);
    model.dispose();
  });

  it.each<[string, TinyCheckpointOptions]>([
    ['one file', { maskBuffers: true, prefix: true }],
    ['a sharded index', { sharded: true }],
  ])('loads user-picked files with %s', async (_label, options) => {
    const { files, tensors } = tinyCheckpointFiles(options);
    const progress: GPT2LoadProgress[] = [];
    const model = await GPT2.fromPretrained(asFiles(files), {
      processWeights: false,
      onProgress: (event) => progress.push(event),
    });
    expectReferenceLogits(model, tensors);
    expect(progress.at(-1)!.loadedBytes).toBe(progress.at(-1)!.totalBytes);
    model.dispose();
    const byName = new Map(
      [...files].map(([name, bytes]) => [name, new Blob([bytes.slice()])] as const),
    );
    const again = await GPT2.fromPretrained(byName, { processWeights: false });
    expectReferenceLogits(again, tensors);
    again.dispose();
  });

  it('names a missing tensor with its expected shape, before reading any weights', async () => {
    const { files } = tinyCheckpointFiles({
      edit: (tensors) => tensors.delete('h.1.attn.c_proj.weight'),
    });
    const before = tf.memory().numTensors;
    const fetched: string[] = [];
    const recording: typeof fetch = (input, init) => {
      fetched.push(`${init?.method ?? 'GET'} ${new Headers(init?.headers).get('Range') ?? 'all'}`);
      return memoryFetch(BASE, files)(input, init);
    };
    const error = await GPT2.fromPretrained(BASE, { fetch: recording }).catch((caught) => caught);
    expect(error).toBeInstanceOf(WeightMappingError);
    expect(error.message).toMatch(
      /no tensor "h\.1\.attn\.c_proj\.weight" \(expected shape \[16, 16\], found absent\)/,
    );
    // config.json, then the header's two Range requests; no full download.
    expect(fetched.filter((entry) => entry.endsWith('all'))).toHaveLength(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names a mis-shaped tensor with expected and found shapes', async () => {
    const { folder } = await writeTinyCheckpoint({
      edit: (tensors) =>
        tensors.set('h.0.mlp.c_fc.bias', { shape: [63], data: new Float32Array(63) }),
    });
    await expect(loadGPT2FromFolder(folder)).rejects.toThrow(
      /tensor "h\.0\.mlp\.c_fc\.bias" has shape \[63\], expected \[64\]/,
    );
  });

  it('refuses tensors that are not GPT-2 weights, and duplicates', async () => {
    const unknown = await writeTinyCheckpoint({
      edit: (tensors) =>
        tensors.set('h.0.attn.q_proj.weight', { shape: [1], data: new Float32Array(1) }),
    });
    await expect(loadGPT2FromFolder(unknown.folder)).rejects.toThrow(
      /tensors that are not GPT-2 weights for nLayers=2: "h\.0\.attn\.q_proj\.weight"/,
    );
    const { files } = tinyCheckpointFiles({
      edit: (tensors) => tensors.set('transformer.wte.weight', tensors.get('wte.weight')!),
    });
    await expect(GPT2.fromPretrained(asFiles(files))).rejects.toThrow(/stores "wte\.weight" twice/);
  });

  it('refuses unsupported configs with clear errors', async () => {
    const { files } = tinyCheckpointFiles();
    const withConfig = (config: Record<string, unknown>) => {
      const changed = new Map(files);
      const base = JSON.parse(new TextDecoder().decode(files.get('config.json')));
      changed.set('config.json', new TextEncoder().encode(JSON.stringify({ ...base, ...config })));
      return asFiles(changed);
    };
    await expect(GPT2.fromPretrained(withConfig({ activation_function: 'relu' }))).rejects.toThrow(
      /activation_function "relu" is not supported; accepted: "gelu_new", "gelu"/,
    );
    await expect(GPT2.fromPretrained(withConfig({ n_head: 5 }))).rejects.toThrow(
      /config\.json's n_embd \(16\) must be divisible by n_head \(5\)/,
    );
    await expect(GPT2.fromPretrained(withConfig({ model_type: 'llama' }))).rejects.toThrow(
      /model_type is "llama"/,
    );
    await expect(GPT2.fromPretrained(withConfig({ n_layer: 3 }))).rejects.toThrow(
      /no tensor "h\.2\.ln_1\.weight"/,
    );
  });

  it('refuses missing files and bad sources', async () => {
    const { files } = tinyCheckpointFiles();
    const noConfig = new Map(files);
    noConfig.delete('config.json');
    await expect(GPT2.fromPretrained(asFiles(noConfig))).rejects.toThrow(/no config\.json/);
    const noWeights = new Map(files);
    noWeights.delete('model.safetensors');
    await expect(GPT2.fromPretrained(asFiles(noWeights))).rejects.toThrow(
      /neither model\.safetensors nor model\.safetensors\.index\.json/,
    );
    await expect(readGPT2Checkpoint(`${BASE}model.safetensors`)).rejects.toThrow(
      /looks like a file/,
    );
    await expect(readGPT2Checkpoint('./relative/folder')).rejects.toThrow(InvalidArgumentError);
    await expect(
      GPT2.fromPretrained(`${BASE}missing/`, { fetch: memoryFetch(BASE, files) }),
    ).rejects.toThrow(/HTTP 404/);
    const empty = await mkdtemp(join(tmpdir(), 'patchlens-empty-'));
    await expect(loadGPT2FromFolder(empty)).rejects.toThrow(/cannot read config\.json/);
    await writeFile(join(empty, 'config.json'), files.get('config.json')!);
    await expect(loadGPT2FromFolder(empty)).rejects.toThrow(/neither model\.safetensors/);
  });
});
