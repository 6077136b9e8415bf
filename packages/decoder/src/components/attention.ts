import type { PastKeyValue } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type DecoderConfig, keyValueHeads } from '../decoder-config.js';
import type { BlockHookNames } from '../decoder-hook-names.js';
import type { DecoderBlockWeights } from '../decoder-weights.js';
import { addBias, type HookRunner } from './hook-runner.js';
import { applyRotary } from './rotary.js';

/** What attention needs besides the block's input and weights. */
export interface AttentionContext {
  readonly config: DecoderConfig;
  readonly hooks: HookRunner;
  /** `[P, p + P]` additive causal mask (0 or -Infinity). */
  readonly mask: tf.Tensor2D;
  readonly useAttnResult: boolean;
  /** Per-head query/key/value inputs (`hook_q_input`, …; TransformerLens `use_split_qkv_input`). */
  readonly useSplitQkvInput: boolean;
  /** RoPE tables of the computed positions (rotary models). */
  readonly rotary: { cos: tf.Tensor3D; sin: tf.Tensor3D } | undefined;
  /** RoPE tables of positions `0..p-1`, for `pastKeyValues` keys (which are stored unrotated). */
  readonly pastRotary: { cos: tf.Tensor3D; sin: tf.Tensor3D } | undefined;
  /** Keys/values of earlier positions per block (`attn.hook_k`/`hook_v` layout). */
  readonly pastKeyValues: readonly (PastKeyValue | undefined)[] | undefined;
}

/** `[B, P, H, Dh]` <-> `[B, H, P, Dh]`. */
function swapHeadAndPosition(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, [0, 2, 1, 3]);
}

/** `x @ W + b` on `[B, P, D]`, reshaped to heads `[B, P, heads, Dh]`. */
function project(
  flat: tf.Tensor2D,
  W: tf.Tensor2D,
  b: tf.Tensor1D | null,
  shape: [number, number, number, number],
): tf.Tensor4D {
  return tf.reshape(addBias(tf.matMul(flat, W), b), shape); // [B, P, heads, Dh]
}

/**
 * The attention input after ln1: one `[B, P, D]` for every head, or (`useSplitQkvInput`) a query
 * input `[B, P, H, D]` and key and value inputs `[B, P, Hkv, D]`, one per head.
 */
export type AttentionInput = tf.Tensor3D | readonly [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];

/** The q, k, v projection matrices and biases (split from a fused W_QKV by columns when fused). */
function projections(block: DecoderBlockWeights, config: DecoderConfig) {
  const widths = [
    config.nHeads * config.dHead,
    keyValueHeads(config) * config.dHead,
    keyValueHeads(config) * config.dHead,
  ];
  if (!block.W_QKV) {
    return [
      [block.W_Q, block.b_Q],
      [block.W_K, block.b_K],
      [block.W_V, block.b_V],
    ] as const;
  }
  const W = tf.split(block.W_QKV, widths, 1) as tf.Tensor2D[]; // [D, H*Dh], [D, Hkv*Dh], [D, Hkv*Dh]
  const b = block.b_QKV ? (tf.split(block.b_QKV, widths, 0) as tf.Tensor1D[]) : [null, null, null];
  return [0, 1, 2].map((i) => [W[i]!, b[i] ?? null] as const);
}

/** q, k, v `[B, P, heads, Dh]` from one shared input (one matmul each, or one for a fused W_QKV). */
function sharedProjections(
  x: tf.Tensor3D,
  block: DecoderBlockWeights,
  config: DecoderConfig,
): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const [B, P, D] = x.shape;
  const H = config.nHeads;
  const Hkv = keyValueHeads(config);
  const Dh = config.dHead;
  const flat = tf.reshape<tf.Rank.R2>(x, [B * P, D]); // [B*P, D]
  if (block.W_QKV) {
    const fused = addBias(tf.matMul(flat, block.W_QKV), block.b_QKV); // [B*P, (H + 2Hkv)*Dh]
    const [q, k, v] = tf.split(fused, [H * Dh, Hkv * Dh, Hkv * Dh], 1);
    return [
      tf.reshape(q!, [B, P, H, Dh]), // [B, P, H, Dh]
      tf.reshape(k!, [B, P, Hkv, Dh]), // [B, P, Hkv, Dh]
      tf.reshape(v!, [B, P, Hkv, Dh]), // [B, P, Hkv, Dh]
    ];
  }
  return [
    project(flat, block.W_Q, block.b_Q, [B, P, H, Dh]),
    project(flat, block.W_K, block.b_K, [B, P, Hkv, Dh]),
    project(flat, block.W_V, block.b_V, [B, P, Hkv, Dh]),
  ];
}

/** q, k, v `[B, P, heads, Dh]`, head h reading only its own input `[B, P, heads, D]`. */
function splitProjections(
  inputs: readonly [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D],
  block: DecoderBlockWeights,
  config: DecoderConfig,
): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const Dh = config.dHead;
  const weights = projections(block, config);
  return inputs.map((input, i) => {
    const [B, P, heads, D] = input.shape;
    const [W, b] = weights[i]!;
    const byHead = tf.transpose(tf.reshape(input, [B * P, heads, D]), [1, 0, 2]); // [heads, B*P, D]
    const W_h = tf.transpose(tf.reshape(W, [D, heads, Dh]), [1, 0, 2]); // [heads, D, Dh]
    let projected = tf.matMul(byHead, W_h); // [heads, B*P, Dh]
    if (b) projected = tf.add(projected, tf.reshape(b, [heads, 1, Dh])); // [heads, B*P, Dh]
    return tf.reshape(tf.transpose(projected, [1, 0, 2]), [B, P, heads, Dh]) as tf.Tensor4D; // [B, P, heads, Dh]
  }) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
}

/**
 * TransformerLens's attention (`components/abstract_attention.py`) for the decoder: q/k/v
 * projections (separate, or one fused `W_QKV` matmul) with optional biases (`hook_q` `[B, P, H, Dh]`, `hook_k`/`hook_v` with the key/value
 * head count), RoPE (`hook_rot_q`, `hook_rot_k`), scores `q·k/sqrt(dHead)` with -inf above the
 * diagonal (`hook_attn_scores` `[B, H, P, Pk]`), softmax (`hook_pattern`), `hook_z`
 * `[B, P, H, Dh]`, optional per-head `hook_result`, `hook_attn_out`. Grouped-query attention:
 * query head h reads key/value head `floor(h / (H / Hkv))` (TransformerLens's repeat_interleave),
 * computed by grouping the queries instead of copying keys.
 */
export function attention(
  input: AttentionInput,
  layer: number,
  block: DecoderBlockWeights,
  names: BlockHookNames,
  context: AttentionContext,
): tf.Tensor3D {
  const { hooks, config } = context;
  const H = config.nHeads;
  const Hkv = keyValueHeads(config);
  const Dh = config.dHead;
  const D = config.dModel;
  const group = H / Hkv;
  const [rawQ, rawK, rawV] =
    input instanceof tf.Tensor
      ? sharedProjections(input, block, config)
      : splitProjections(input, block, config); // [B, P, H | Hkv, Dh]
  const [B, P] = rawQ.shape;
  let q = hooks.run(names.q, rawQ); // [B, P, H, Dh]
  let k = hooks.run(names.k, rawK); // [B, P, Hkv, Dh]
  const v = hooks.run(names.v, rawV); // [B, P, Hkv, Dh]
  const past = context.pastKeyValues?.[layer];
  let pastKey = past?.key as tf.Tensor4D | undefined; // [B, p, Hkv, Dh]
  if (context.rotary) {
    q = hooks.run(names.rotQ, applyRotary(q, context.rotary)); // [B, P, H, Dh]
    k = hooks.run(names.rotK, applyRotary(k, context.rotary)); // [B, P, Hkv, Dh]
    if (pastKey && context.pastRotary) pastKey = applyRotary(pastKey, context.pastRotary);
  }
  const keys = pastKey ? tf.concat([pastKey, k], 1) : k; // [B, Pk, Hkv, Dh]
  const values = past ? tf.concat([past.value as tf.Tensor4D, v], 1) : v; // [B, Pk, Hkv, Dh]
  const Pk = keys.shape[1];
  // Queries grouped by their key/value head: [B, Hkv, group*P, Dh]
  const groupedQ = tf.reshape(swapHeadAndPosition(q), [B, Hkv, group * P, Dh]);
  const products = tf.matMul(groupedQ, swapHeadAndPosition(keys), false, true); // [B, Hkv, group*P, Pk]
  const scores = hooks.run(
    names.attnScores,
    tf.add<tf.Tensor4D>(tf.div(tf.reshape(products, [B, H, P, Pk]), Math.sqrt(Dh)), context.mask), // [B, H, P, Pk]
  );
  const pattern = hooks.run(names.pattern, tf.softmax(scores)); // [B, H, P, Pk]
  const groupedPattern = tf.reshape(pattern, [B, Hkv, group * P, Pk]); // [B, Hkv, group*P, Pk]
  const mixed = tf.matMul(groupedPattern, swapHeadAndPosition(values)); // [B, Hkv, group*P, Dh]
  const z = hooks.run(names.z, swapHeadAndPosition(tf.reshape(mixed, [B, H, P, Dh]))); // [B, P, H, Dh]
  let attnOut: tf.Tensor3D;
  if (context.useAttnResult) {
    const zByHead = tf.transpose(tf.reshape(z, [B * P, H, Dh]), [1, 0, 2]); // [H, B*P, Dh]
    const perHead = tf.matMul(zByHead, tf.reshape(block.W_O, [H, Dh, D])); // [H, B*P, D]
    const result = hooks.run(
      names.result,
      tf.reshape(tf.transpose(perHead, [1, 0, 2]), [B, P, H, D]), // [B, P, H, D]
    );
    attnOut = addBias(tf.sum(result, 2) as tf.Tensor3D, block.b_O); // [B, P, D]
  } else {
    const zFlat = tf.reshape(z, [B * P, H * Dh]); // [B*P, H*Dh]
    attnOut = tf.reshape(addBias(tf.matMul(zFlat, block.W_O), block.b_O), [B, P, D]); // [B, P, D]
  }
  return hooks.run(names.attnOut, attnOut);
}

/**
 * `[P, offset + P]` additive causal mask for queries at `offset..offset+P-1` over keys
 * `0..offset+P-1`: 0 where key <= query, -Infinity after.
 */
export function causalMask(positions: number, offset: number): tf.Tensor2D {
  const keys = offset + positions;
  const values = new Float32Array(positions * keys);
  for (let query = 0; query < positions; query++) {
    for (let key = offset + query + 1; key < keys; key++) values[query * keys + key] = -Infinity;
  }
  return tf.tensor2d(values, [positions, keys]);
}
