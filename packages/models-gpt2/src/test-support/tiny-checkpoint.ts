/** Tiny seeded GPT-2 checkpoints written as real Hugging Face folders, for tests. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@patchlens/safetensors';
import { writeSafetensorsFile } from '@patchlens/safetensors/node';
import { randomGPT2Checkpoint } from '../random-checkpoint.js';
import type { PlainTensor, ReferenceConfig } from './reference-gpt2.js';

/** 2 layers, 4 heads, d_model 16, vocab 50, context 16. */
export const TINY_CONFIG: ReferenceConfig = Object.freeze({
  nLayers: 2,
  nHeads: 4,
  dModel: 16,
  dMlp: 64,
  dVocab: 50,
  nCtx: 16,
  eps: 1e-5,
  actFn: 'gelu_new',
});

/** The Hugging Face config.json object of a reference config. */
export function huggingFaceConfigJson(config: ReferenceConfig): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    n_layer: config.nLayers,
    n_head: config.nHeads,
    n_embd: config.dModel,
    n_inner: config.dMlp === 4 * config.dModel ? null : config.dMlp,
    n_positions: config.nCtx,
    n_ctx: config.nCtx,
    vocab_size: config.dVocab,
    layer_norm_epsilon: config.eps,
    activation_function: config.actFn,
  };
}

/** How to write a tiny checkpoint. */
export interface TinyCheckpointOptions {
  readonly config?: ReferenceConfig;
  readonly seed?: number;
  /** Prefix every name with `transformer.` (as some GPT2LMHeadModel saves do). */
  readonly prefix?: boolean;
  /** Add `h.{i}.attn.bias` / `masked_bias` mask buffers. */
  readonly maskBuffers?: boolean;
  /** Write `model.safetensors.index.json` and two shards instead of one file. */
  readonly sharded?: boolean;
  /** Also write `lm_head.weight` (untied unembedding). */
  readonly lmHead?: boolean;
  /** Scale of the value biases (default 1). */
  readonly valueBiasScale?: number;
  /** Change the tensors before writing (drop or reshape one to test errors). */
  readonly edit?: (tensors: Map<string, PlainTensor>) => void;
}

/** The files of a tiny checkpoint, by file name, plus the tensors (without prefix or masks). */
export interface TinyCheckpointFiles {
  readonly files: Map<string, Uint8Array>;
  /** The tensors as stored (prefix, masks and edits applied). */
  readonly stored: Map<string, PlainTensor>;
  readonly tensors: Map<string, PlainTensor>;
  readonly config: ReferenceConfig;
}

/** Builds a tiny checkpoint's files in memory. */
export function tinyCheckpointFiles(options: TinyCheckpointOptions = {}): TinyCheckpointFiles {
  const config = options.config ?? TINY_CONFIG;
  const tensors: Map<string, PlainTensor> = randomGPT2Checkpoint(config, {
    seed: options.seed ?? 1234,
    valueBiasScale: options.valueBiasScale ?? 1,
    lmHead: options.lmHead ?? false,
  });
  const stored = new Map<string, PlainTensor>();
  for (const [name, tensor] of tensors) stored.set(name, tensor);
  if (options.maskBuffers) {
    for (let layer = 0; layer < config.nLayers; layer++) {
      const size = config.nCtx;
      const mask = new Float32Array(size * size);
      for (let i = 0; i < size; i++) for (let j = 0; j <= i; j++) mask[i * size + j] = 1;
      stored.set(`h.${layer}.attn.bias`, { shape: [1, 1, size, size], data: mask });
      stored.set(`h.${layer}.attn.masked_bias`, { shape: [], data: new Float32Array([-1e4]) });
    }
  }
  options.edit?.(stored);
  const named = new Map(
    [...stored].map(
      ([name, tensor]) => [options.prefix ? `transformer.${name}` : name, tensor] as const,
    ),
  );
  const files = new Map<string, Uint8Array>();
  files.set('config.json', new TextEncoder().encode(JSON.stringify(huggingFaceConfigJson(config))));
  if (options.sharded) {
    const names = [...named.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((shardNames, index) => {
      const file = `model-0000${index + 1}-of-00002.safetensors`;
      for (const name of shardNames) weightMap[name] = file;
      files.set(
        file,
        writeSafetensors(new Map(shardNames.map((name) => [name, named.get(name)!] as const))),
      );
    });
    files.set(
      'model.safetensors.index.json',
      new TextEncoder().encode(
        JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
      ),
    );
  } else {
    files.set('model.safetensors', writeSafetensors(named, { metadata: { format: 'pt' } }));
  }
  return { files, stored: named, tensors, config };
}

/**
 * Writes a tiny checkpoint to a new temporary folder (the single-file weights with the Node
 * writer `writeSafetensorsFile`) and returns its path, files and tensors.
 */
export async function writeTinyCheckpoint(
  options: TinyCheckpointOptions = {},
): Promise<TinyCheckpointFiles & { folder: string }> {
  const built = tinyCheckpointFiles(options);
  const folder = await mkdtemp(join(tmpdir(), 'patchlens-gpt2-'));
  for (const [name, bytes] of built.files) {
    if (name === 'model.safetensors') {
      await writeSafetensorsFile(join(folder, name), built.stored, { metadata: { format: 'pt' } });
    } else {
      await writeFile(join(folder, name), bytes);
    }
  }
  return { ...built, folder };
}

/** A `fetch` that serves a checkpoint's files from memory under `base` (404 for anything else). */
export function memoryFetch(base: string, files: ReadonlyMap<string, Uint8Array>): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const name = url.startsWith(base) ? decodeURIComponent(url.slice(base.length)) : undefined;
    const bytes = name === undefined ? undefined : files.get(name);
    if (!bytes) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const range = new Headers(init?.headers).get('Range');
    if (range) {
      const match = /^bytes=(\d+)-(\d+)$/.exec(range);
      const start = Number(match?.[1]);
      const end = Math.min(Number(match?.[2]), bytes.length - 1);
      const body = bytes.slice(start, end + 1);
      return new Response(body, {
        status: 206,
        headers: {
          'content-length': String(body.length),
          'content-range': `bytes ${start}-${end}/${bytes.length}`,
        },
      });
    }
    return new Response(bytes.slice(), {
      status: 200,
      headers: { 'content-length': String(bytes.length) },
    });
  }) as typeof fetch;
}
