import {
  type ForwardOptions,
  type HookName,
  type HookRegistry,
  InvalidArgumentError,
  type PastKeyValue,
  ShapeMismatchError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { differentiableGather } from './differentiable-gather.js';
import type { GPT2Config } from './gpt2-config.js';
import type { GPT2BlockWeights, GPT2Weights, LayerNormWeights } from './gpt2-weights.js';

/**
 * Options of {@link gpt2Forward}: the model-level {@link ForwardOptions} plus the hooks to run.
 *
 * @example
 * ```ts
 * gpt2Forward(config, weights, tokens, { hooks: registry, unembed: { positions: [-1] } });
 * ```
 */
export interface GPT2ForwardOptions extends ForwardOptions {
  /** The registry whose hooks run at each hook point (default: none, the plain forward pass). */
  readonly hooks?: HookRegistry;
  /**
   * Compute each head's output separately (`attn.hook_result`, `[batch, pos, head, dModel]`) and
   * sum them into `hook_attn_out` (default false: one matrix multiplication for all heads).
   */
  readonly useAttnResult?: boolean;
}

/** Hook names of one block, built once per layer index. */
interface BlockHookNames {
  readonly residPre: HookName;
  readonly ln1Scale: HookName;
  readonly ln1Normalized: HookName;
  readonly q: HookName;
  readonly k: HookName;
  readonly v: HookName;
  readonly attnScores: HookName;
  readonly pattern: HookName;
  readonly z: HookName;
  readonly result: HookName;
  readonly attnOut: HookName;
  readonly residMid: HookName;
  readonly ln2Scale: HookName;
  readonly ln2Normalized: HookName;
  readonly mlpPre: HookName;
  readonly mlpPost: HookName;
  readonly mlpOut: HookName;
  readonly residPost: HookName;
}

const blockNameCache: BlockHookNames[] = [];

function blockHookNames(layer: number): BlockHookNames {
  let names = blockNameCache[layer];
  if (!names) {
    const prefix = `blocks.${layer}.` as const;
    names = {
      residPre: `${prefix}hook_resid_pre`,
      ln1Scale: `${prefix}ln1.hook_scale`,
      ln1Normalized: `${prefix}ln1.hook_normalized`,
      q: `${prefix}attn.hook_q`,
      k: `${prefix}attn.hook_k`,
      v: `${prefix}attn.hook_v`,
      attnScores: `${prefix}attn.hook_attn_scores`,
      pattern: `${prefix}attn.hook_pattern`,
      z: `${prefix}attn.hook_z`,
      result: `${prefix}attn.hook_result`,
      attnOut: `${prefix}hook_attn_out`,
      residMid: `${prefix}hook_resid_mid`,
      ln2Scale: `${prefix}ln2.hook_scale`,
      ln2Normalized: `${prefix}ln2.hook_normalized`,
      mlpPre: `${prefix}mlp.hook_pre`,
      mlpPost: `${prefix}mlp.hook_post`,
      mlpOut: `${prefix}hook_mlp_out`,
      residPost: `${prefix}hook_resid_post`,
    };
    blockNameCache[layer] = names;
  }
  return names;
}

/** Runs hooks at a hook point; `watched` says whether any hook is attached (to skip layout work). */
interface HookRunner {
  run<T extends tf.Tensor>(name: HookName, activation: T): T;
  watched(name: HookName): boolean;
}

function hookRunner(registry: HookRegistry | undefined): HookRunner {
  if (!registry) {
    return { run: (_name, activation) => activation, watched: () => false };
  }
  return {
    run: <T extends tf.Tensor>(name: HookName, activation: T) =>
      registry.run(name, activation) as T,
    watched: (name) => registry.hasHooks(name),
  };
}

/** What a validated call will do. */
interface ForwardPlan {
  readonly batch: number;
  /** Positions computed (the input's length): all, or those from `startPosition` on. */
  readonly positions: number;
  /** The first computed position (`startAtPosition`, default 0); earlier ones come from `pastKeyValues`. */
  readonly startPosition: number;
  /** Keys/values of positions before `startPosition` per block index (checked), when it is > 0. */
  readonly pastKeyValues: readonly (PastKeyValue | undefined)[] | undefined;
  readonly startAtLayer: number;
  /** Exclusive end block; return the residual instead of logits when `returnResidual`. */
  readonly stopAtLayer: number;
  readonly returnResidual: boolean;
  readonly unembedPositions: number[] | undefined;
  readonly unembedTokens: number[] | undefined;
}

function resolveLayer(where: string, option: string, value: unknown, nLayers: number): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < -nLayers ||
    value > nLayers
  ) {
    throw new InvalidArgumentError(
      `${where}: ${option} is ${JSON.stringify(value)}; accepted: integers ${-nLayers}..${nLayers} (negative counts from the end, nLayers = ${nLayers}).`,
    );
  }
  return value < 0 ? value + nLayers : value;
}

function describeTensor(value: unknown): string {
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape}]`;
  if (Array.isArray(value)) return 'an array (make a tensor: tf.tensor2d(ids, undefined, "int32"))';
  return value === null ? 'null' : typeof value;
}

/**
 * Checks the input and options of a forward pass before any work (so errors leak no tensors).
 * Token ids are read back synchronously to check the vocabulary range.
 */
export function planForward(
  config: GPT2Config,
  input: unknown,
  options: ForwardOptions,
  where: string,
): ForwardPlan {
  const { nLayers, dModel, nCtx, dVocab } = config;
  const startAtLayer =
    options.startAtLayer === undefined
      ? 0
      : resolveLayer(where, 'startAtLayer', options.startAtLayer, nLayers);
  const stopAtLayer =
    options.stopAtLayer === undefined
      ? nLayers
      : resolveLayer(where, 'stopAtLayer', options.stopAtLayer, nLayers);
  if (stopAtLayer < startAtLayer) {
    throw new InvalidArgumentError(
      `${where}: stopAtLayer (${stopAtLayer}) is before startAtLayer (${startAtLayer}); accepted: stopAtLayer >= startAtLayer.`,
    );
  }
  const returnResidual = options.stopAtLayer !== undefined;
  if (returnResidual && options.unembed !== undefined) {
    throw new InvalidArgumentError(
      `${where}: unembed is given with stopAtLayer; a pass that stops at a layer returns the residual stream and computes no logits. Drop one of them.`,
    );
  }
  if (!(input instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${where}: input is ${describeTensor(input)}; expected a tf.Tensor (int32 tokens [batch, pos], or the residual stream [batch, pos, dModel] with startAtLayer).`,
    );
  }
  if (input.isDisposed) {
    throw new InvalidArgumentError(`${where}: the input tensor has been disposed.`);
  }
  let batch: number;
  let positions: number;
  if (startAtLayer === 0 && options.startAtLayer === undefined) {
    if (input.dtype !== 'int32') {
      throw new InvalidArgumentError(
        `${where}: tokens have dtype ${input.dtype}; expected int32 token ids (tf.tensor2d(ids, [batch, pos], 'int32') or model.toTokens(text)).`,
      );
    }
    if (input.rank !== 2) {
      throw new ShapeMismatchError(
        `${where}: tokens have shape [${input.shape}] (rank ${input.rank}); expected rank 2 [batch, pos]${input.rank === 1 ? ' (add a batch axis: tf.expandDims(tokens, 0))' : ''}.`,
        { expected: [null, null], actual: input.shape },
      );
    }
    [batch, positions] = input.shape as [number, number];
  } else {
    if (input.dtype !== 'float32') {
      throw new InvalidArgumentError(
        `${where}: with startAtLayer the input is the residual stream; got dtype ${input.dtype}, expected float32.`,
      );
    }
    if (input.rank !== 3 || input.shape[2] !== dModel) {
      throw new ShapeMismatchError(
        `${where}: with startAtLayer the input is the residual stream [batch, pos, ${dModel}]; got shape [${input.shape}].`,
        { expected: [null, null, dModel], actual: input.shape },
      );
    }
    [batch, positions] = input.shape as [number, number, number];
  }
  if (batch === 0 || positions === 0) {
    throw new ShapeMismatchError(
      `${where}: the input is empty (shape [${input.shape}]); expected at least one sequence of at least one position.`,
      { expected: [null, null], actual: input.shape },
    );
  }
  const startPosition = checkStartPosition(config, options, where);
  const totalPositions = startPosition + positions;
  if (totalPositions > nCtx) {
    throw new ShapeMismatchError(
      `${where}: the sequence has ${totalPositions} positions${startPosition > 0 ? ` (startAtPosition ${startPosition} + ${positions} computed)` : ''}, more than the model's context of nCtx = ${nCtx}.`,
      { expected: [batch, nCtx], actual: input.shape },
    );
  }
  const pastKeyValues =
    startPosition > 0
      ? checkPastKeyValues(config, options, where, batch, startPosition, startAtLayer, stopAtLayer)
      : undefined;
  // Reading the ids back is free where tensors live in host memory; on webgl/webgpu it would stall
  // the GPU on every forward pass, so there the range check is skipped (see Limitations).
  if (input.dtype === 'int32' && HOST_MEMORY_BACKENDS.has(tf.getBackend())) {
    const ids = input.dataSync() as Int32Array;
    for (let index = 0; index < ids.length; index++) {
      const id = ids[index]!;
      if (id < 0 || id >= dVocab) {
        const row = Math.floor(index / positions);
        throw new InvalidArgumentError(
          `${where}: token id ${id} at [${row}, ${index % positions}] is outside the vocabulary; accepted: 0..${dVocab - 1} (dVocab = ${dVocab}).`,
        );
      }
    }
  }
  let unembedPositions: number[] | undefined;
  let unembedTokens: number[] | undefined;
  const selection = options.unembed;
  if (selection !== undefined) {
    if (typeof selection !== 'object' || selection === null) {
      throw new InvalidArgumentError(
        `${where}: unembed is ${selection === null ? 'null' : typeof selection}; expected { positions?: number[], tokens?: number[] }.`,
      );
    }
    if (selection.positions !== undefined) {
      unembedPositions = checkIndices(
        where,
        'unembed.positions',
        selection.positions,
        totalPositions,
        true,
      ).map((position) => {
        if (position < startPosition) {
          throw new InvalidArgumentError(
            `${where}: unembed.positions contains ${position}, before startAtPosition ${startPosition}; a pass that starts at a position computes no logits for earlier ones. Accepted: ${startPosition}..${totalPositions - 1} (or negative from the end).`,
          );
        }
        return position - startPosition;
      });
    }
    if (selection.tokens !== undefined) {
      unembedTokens = checkIndices(where, 'unembed.tokens', selection.tokens, dVocab, false);
    }
  }
  return {
    batch,
    positions,
    startPosition,
    pastKeyValues,
    startAtLayer,
    stopAtLayer,
    returnResidual,
    unembedPositions,
    unembedTokens,
  };
}

/** `startAtPosition` checked (0 when absent); it needs `startAtLayer`. */
function checkStartPosition(config: GPT2Config, options: ForwardOptions, where: string): number {
  const value = options.startAtPosition;
  if (value === undefined) {
    if (options.pastKeyValues !== undefined) {
      throw new InvalidArgumentError(
        `${where}: pastKeyValues is given without startAtPosition; pass startAtPosition (the number of positions the keys/values cover) with it, or drop it.`,
      );
    }
    return 0;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= config.nCtx) {
    throw new InvalidArgumentError(
      `${where}: startAtPosition is ${JSON.stringify(value)}; accepted: integers 0..${config.nCtx - 1} (nCtx = ${config.nCtx}).`,
    );
  }
  if (options.startAtLayer === undefined) {
    throw new InvalidArgumentError(
      `${where}: startAtPosition (${value}) needs startAtLayer: the input must be the residual stream of positions >= ${value} entering that block (position embeddings are added at block 0 from the tokens).`,
    );
  }
  return value;
}

/** `pastKeyValues` checked: an entry `[batch, p, nHeads, dHead]` for every block the pass runs. */
function checkPastKeyValues(
  config: GPT2Config,
  options: ForwardOptions,
  where: string,
  batch: number,
  startPosition: number,
  startAtLayer: number,
  stopAtLayer: number,
): readonly (PastKeyValue | undefined)[] {
  const past = options.pastKeyValues;
  if (!Array.isArray(past)) {
    throw new InvalidArgumentError(
      `${where}: startAtPosition is ${startPosition} but pastKeyValues is ${past === undefined ? 'missing' : describeTensor(past)}; expected an array indexed by block of { key, value } tensors [batch, ${startPosition}, ${config.nHeads}, ${config.dHead}] (the keys/values of the earlier positions).`,
    );
  }
  const expected = [batch, startPosition, config.nHeads, config.dHead];
  for (let layer = startAtLayer; layer < stopAtLayer; layer++) {
    const entry = past[layer] as PastKeyValue | undefined;
    if (typeof entry !== 'object' || entry === null) {
      throw new InvalidArgumentError(
        `${where}: pastKeyValues[${layer}] is ${entry === null ? 'null' : typeof entry}; a pass from block ${startAtLayer} to ${stopAtLayer} needs { key, value } for every block it runs.`,
      );
    }
    for (const part of ['key', 'value'] as const) {
      const tensor: unknown = entry[part];
      if (!(tensor instanceof tf.Tensor) || tensor.isDisposed || tensor.dtype !== 'float32') {
        throw new InvalidArgumentError(
          `${where}: pastKeyValues[${layer}].${part} is ${tensor instanceof tf.Tensor && tensor.isDisposed ? 'a disposed tensor' : describeTensor(tensor)}; expected a float32 tensor [${expected}].`,
        );
      }
      if (!tf.util.arraysEqual(tensor.shape, expected)) {
        throw new ShapeMismatchError(
          `${where}: pastKeyValues[${layer}].${part} has shape [${tensor.shape}]; expected [${expected}] ([batch, startAtPosition, nHeads, dHead]).`,
          { expected, actual: tensor.shape },
        );
      }
    }
  }
  return past;
}

function checkIndices(
  where: string,
  option: string,
  values: unknown,
  size: number,
  allowNegative: boolean,
): number[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new InvalidArgumentError(
      `${where}: ${option} must be a non-empty array of integers, got ${Array.isArray(values) ? 'an empty array' : JSON.stringify(values)}.`,
    );
  }
  const low = allowNegative ? -size : 0;
  return values.map((value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value >= size) {
      throw new InvalidArgumentError(
        `${where}: ${option} contains ${JSON.stringify(value)}; accepted: integers ${low}..${size - 1}${allowNegative ? ' (negative counts from the end)' : ''}.`,
      );
    }
    return value < 0 ? value + size : value;
  });
}

/**
 * LayerNorm with hooks, as TransformerLens 3 computes it (`components/layer_norm.py`): centre,
 * scale (`hook_scale` `[B, P, 1]`), `hook_normalized` on `(x - mean) / scale` — before the weight
 * and bias (TransformerLens >= 3.0, PR #770; 2.x hooked the output after them) — then
 * `* w + b` for a full LayerNorm; a folded one (`LNPre`, `weights` null) stops at the hook.
 */
function layerNorm(
  x: tf.Tensor3D,
  weights: LayerNormWeights | null,
  eps: number,
  hooks: HookRunner,
  scaleName: HookName,
  normalizedName: HookName,
): tf.Tensor3D {
  const centered = tf.sub(x, tf.mean(x, -1, true)); // [B, P, D]
  const variance = tf.mean(tf.square(centered), -1, true); // [B, P, 1]
  const scale = hooks.run(scaleName, tf.sqrt(tf.add(variance, eps))); // [B, P, 1]
  const normalized = hooks.run(normalizedName, tf.div<tf.Tensor3D>(centered, scale)); // [B, P, D]
  return weights ? tf.add<tf.Tensor3D>(tf.mul(normalized, weights.w), weights.b) : normalized; // [B, P, D]
}

/** Backends whose tensors live in host memory, where reading token ids back costs nothing. */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * `gelu_new`: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as the equal
 * x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) with fewer ops.
 */
function geluNew(x: tf.Tensor3D): tf.Tensor3D {
  const inner = tf.mul(
    x,
    tf.add(tf.mul(tf.square(x), 2 * SQRT_2_OVER_PI * 0.044715), 2 * SQRT_2_OVER_PI),
  );
  return tf.mul<tf.Tensor3D>(x, tf.sigmoid(inner));
}

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
function geluExact(x: tf.Tensor3D): tf.Tensor3D {
  return tf.mul<tf.Tensor3D>(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/**
 * `[P, offset + P]` additive causal mask for queries at positions `offset..offset+P-1` over keys
 * `0..offset+P-1`: 0 where key <= query, -Infinity after.
 */
function causalMask(positions: number, offset: number): tf.Tensor2D {
  const keys = offset + positions;
  const values = new Float32Array(positions * keys);
  for (let query = 0; query < positions; query++) {
    for (let key = offset + query + 1; key < keys; key++) values[query * keys + key] = -Infinity;
  }
  return tf.tensor2d(values, [positions, keys]);
}

interface BlockContext {
  readonly config: GPT2Config;
  readonly hooks: HookRunner;
  readonly mask: tf.Tensor2D;
  readonly useAttnResult: boolean;
  /** Keys/values of the positions before the computed ones, per block (with `startAtPosition`). */
  readonly pastKeyValues: readonly (PastKeyValue | undefined)[] | undefined;
}

/** `[B, H, P, Dh]` <-> `[B, P, H, Dh]` (the same permutation both ways). */
function swapHeadAndPosition<T extends tf.Tensor4D>(x: T): T {
  return tf.transpose(x, [0, 2, 1, 3]);
}

/** Runs the hooks of a `[B, H, P, Dh]` tensor in the spec's `[B, P, H, Dh]` layout, only when watched. */
function hookHeads(hooks: HookRunner, name: HookName, x: tf.Tensor4D): tf.Tensor4D {
  if (!hooks.watched(name)) return x;
  return swapHeadAndPosition(hooks.run(name, swapHeadAndPosition(x)));
}

/** Earlier positions' keys/values `[B, p, H, Dh]` in front of the computed ones `[B, H, P, Dh]`: `[B, H, p + P, Dh]`. */
function withPast(past: tf.Tensor | undefined, current: tf.Tensor4D): tf.Tensor4D {
  if (past === undefined) return current;
  return tf.concat([swapHeadAndPosition(past as tf.Tensor4D), current], 2); // [B, H, p + P, Dh]
}

function attention(
  x: tf.Tensor3D,
  layer: number,
  block: GPT2BlockWeights,
  names: BlockHookNames,
  context: BlockContext,
): tf.Tensor3D {
  const { hooks, config } = context;
  const [B, P, D] = x.shape;
  const { nHeads: H, dHead: Dh } = config;
  const flat = tf.reshape(x, [B * P, D]); // [B*P, D]
  const qkv = tf.add(tf.matMul(flat, block.W_QKV), block.b_QKV); // [B*P, 3*H*Dh]
  const heads = tf.transpose(tf.reshape(qkv, [B, P, 3 * H, Dh]), [0, 2, 1, 3]); // [B, 3H, P, Dh]
  const [rawQ, rawK, rawV] = tf.split(heads, 3, 1) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]; // each [B, H, P, Dh]
  const q = hookHeads(hooks, names.q, rawQ);
  const past = context.pastKeyValues?.[layer];
  const k = withPast(past?.key, hookHeads(hooks, names.k, rawK)); // [B, H, Pk, Dh]
  const v = withPast(past?.value, hookHeads(hooks, names.v, rawV)); // [B, H, Pk, Dh]
  const products = tf.matMul(q, k, false, true); // [B, H, Pq, Pk]
  const scores = hooks.run(
    names.attnScores,
    tf.add(tf.div(products, Math.sqrt(Dh)), context.mask), // [B, H, Pq, Pk], -inf above the diagonal
  );
  const pattern = hooks.run(names.pattern, tf.softmax(scores)); // [B, H, Pq, Pk]
  const z = hooks.run(names.z, swapHeadAndPosition(tf.matMul(pattern, v) as tf.Tensor4D)); // [B, P, H, Dh]
  let attnOut: tf.Tensor3D;
  if (context.useAttnResult) {
    const zByHead = tf.transpose(tf.reshape(z, [B * P, H, Dh]), [1, 0, 2]); // [H, B*P, Dh]
    const W_O = tf.reshape(block.W_O, [H, Dh, D]); // [H, Dh, D]
    const perHead = tf.matMul(zByHead, W_O); // [H, B*P, D]
    const result = hooks.run(
      names.result,
      tf.reshape(tf.transpose(perHead, [1, 0, 2]), [B, P, H, D]), // [B, P, H, D]
    );
    attnOut = tf.add(tf.sum(result, 2), block.b_O); // [B, P, D]
  } else {
    const zFlat = tf.reshape(z, [B * P, H * Dh]); // [B*P, H*Dh]
    attnOut = tf.reshape(tf.add(tf.matMul(zFlat, block.W_O), block.b_O), [B, P, D]); // [B, P, D]
  }
  return hooks.run(names.attnOut, attnOut);
}

function mlp(
  x: tf.Tensor3D,
  block: GPT2BlockWeights,
  names: BlockHookNames,
  context: BlockContext,
): tf.Tensor3D {
  const { hooks, config } = context;
  const [B, P, D] = x.shape;
  const M = config.dMlp;
  const flat = tf.reshape(x, [B * P, D]); // [B*P, D]
  const pre = hooks.run(
    names.mlpPre,
    tf.reshape<tf.Rank.R3>(tf.add(tf.matMul(flat, block.W_in), block.b_in), [B, P, M]), // [B, P, M]
  );
  const activation = config.actFn === 'gelu' ? geluExact(pre) : geluNew(pre);
  const post = hooks.run(names.mlpPost, activation); // [B, P, M]
  const postFlat = tf.reshape(post, [B * P, M]); // [B*P, M]
  const out = tf.reshape<tf.Rank.R3>(tf.add(tf.matMul(postFlat, block.W_out), block.b_out), [
    B,
    P,
    D,
  ]); // [B, P, D]
  return hooks.run(names.mlpOut, out);
}

function transformerBlock(
  residual: tf.Tensor3D,
  layer: number,
  block: GPT2BlockWeights,
  context: BlockContext,
): tf.Tensor3D {
  const { hooks, config } = context;
  const names = blockHookNames(layer);
  const residPre = hooks.run(names.residPre, residual);
  const ln1 = layerNorm(
    residPre,
    block.ln1,
    config.eps,
    hooks,
    names.ln1Scale,
    names.ln1Normalized,
  );
  const attnOut = attention(ln1, layer, block, names, context);
  const residMid = hooks.run(names.residMid, tf.add<tf.Tensor3D>(residPre, attnOut));
  const ln2 = layerNorm(
    residMid,
    block.ln2,
    config.eps,
    hooks,
    names.ln2Scale,
    names.ln2Normalized,
  );
  const mlpOut = mlp(ln2, block, names, context);
  return hooks.run(names.residPost, tf.add<tf.Tensor3D>(residMid, mlpOut));
}

function embed(
  tokens: tf.Tensor2D,
  weights: GPT2Weights,
  hooks: HookRunner,
  plan: ForwardPlan,
): tf.Tensor3D {
  const { batch: B, positions: P } = plan;
  const D = weights.W_E.shape[1];
  const tokenEmbedding = hooks.run(
    'hook_embed',
    differentiableGather(weights.W_E, tokens) as tf.Tensor3D,
  ); // [B, P, D]
  let positionEmbedding: tf.Tensor = tf.slice(weights.W_pos, [0, 0], [P, D]); // [P, D]
  if (hooks.watched('hook_pos_embed')) {
    positionEmbedding = hooks.run('hook_pos_embed', tf.broadcastTo(positionEmbedding, [B, P, D])); // [B, P, D]
  }
  return tf.add(tokenEmbedding, positionEmbedding); // [B, P, D]
}

/**
 * Final LayerNorm and unembedding. With `unembed.positions`, positions are selected before the
 * LayerNorm unless a hook watches `ln_final.*` or `unembed.hook_in` (those always see every
 * computed position); `unembed.hook_out` sees the logits as returned, `[B, nPos, nTokens]`.
 */
function unembed(
  residual: tf.Tensor3D,
  weights: GPT2Weights,
  config: GPT2Config,
  hooks: HookRunner,
  plan: ForwardPlan,
): tf.Tensor3D {
  const D = config.dModel;
  const positionIndices = plan.unembedPositions
    ? tf.tensor1d(plan.unembedPositions, 'int32')
    : undefined;
  const everyPositionWatched =
    hooks.watched('ln_final.hook_scale') ||
    hooks.watched('ln_final.hook_normalized') ||
    hooks.watched('unembed.hook_in');
  let x = residual;
  // LayerNorm acts per position: select positions first unless a hook needs every position.
  if (positionIndices && !everyPositionWatched) {
    x = differentiableGather(x, positionIndices, 1) as tf.Tensor3D;
  } // [B, nPos, D]
  x = layerNorm(
    x,
    weights.ln_final,
    config.eps,
    hooks,
    'ln_final.hook_scale',
    'ln_final.hook_normalized',
  );
  x = hooks.run('unembed.hook_in', x); // [B, P, D] (or [B, nPos, D])
  if (positionIndices && everyPositionWatched) {
    x = differentiableGather(x, positionIndices, 1) as tf.Tensor3D;
  } // [B, nPos, D]
  let W_U: tf.Tensor2D = weights.W_U; // [D, V]
  let b_U: tf.Tensor1D = weights.b_U; // [V]
  if (plan.unembedTokens) {
    const tokenIndices = tf.tensor1d(plan.unembedTokens, 'int32');
    W_U = differentiableGather(W_U, tokenIndices, 1) as tf.Tensor2D; // [D, nTokens]
    b_U = differentiableGather(b_U, tokenIndices) as tf.Tensor1D; // [nTokens]
  }
  const [B, nPositions] = x.shape;
  const flat = tf.reshape(x, [B * nPositions, D]); // [B*nPos, D]
  const logits = tf.add(tf.matMul(flat, W_U), b_U); // [B*nPos, nTokens]
  return hooks.run('unembed.hook_out', tf.reshape(logits, [B, nPositions, W_U.shape[1]])); // [B, nPos, nTokens]
}

/**
 * The GPT-2 forward pass on tfjs ops, with every TransformerLens hook point: logits
 * `[batch, pos, dVocab]` for int32 tokens `[batch, pos]`.
 *
 * Synchronous and made of differentiable tfjs ops only, so it runs inside `tf.tidy`, `tf.grads`
 * and `tf.variableGrads` (weights may be `tf.Variable`s). Intermediate tensors are freed; the
 * caller owns the result. Hook points whose layout differs from the internal one (`hook_q`/`k`/`v`,
 * `hook_pos_embed`) cost nothing unless a hook is attached there.
 *
 * @param config - the model's config (dimensions, `eps`, `actFn`).
 * @param weights - the weights (see {@link GPT2Weights}); LayerNorms set to null are `LNPre`.
 * @param input - int32 tokens `[batch, pos]`, or with `startAtLayer` the float32 residual stream
 *   `[batch, pos, dModel]` entering that block.
 * @param options.hooks - registry whose hooks run at each hook point (default none).
 * @param options.useAttnResult - compute `attn.hook_result` (default false).
 * @param options.startAtLayer - start at this block (default 0; negative counts from the end).
 * @param options.stopAtLayer - stop before this block and return the residual stream entering it.
 * @param options.unembed - unembed only these positions (negative from the end) and/or token ids:
 *   logits `[batch, positions.length, tokens.length]`; `unembed.hook_out` then sees that selected
 *   shape, while `ln_final.*` and `unembed.hook_in` hooks still see every position.
 * @param options.startAtPosition - with `startAtLayer`: compute only positions `>= p` (input
 *   `[batch, pos - p, dModel]`), attending to `pastKeyValues` for the earlier ones; hooks see the
 *   computed positions only (`[batch, pos - p, ...]`, scores/pattern `[batch, head, pos - p, pos]`);
 *   `unembed.positions` count in the full sequence and must be `>= p` (default 0).
 * @param options.pastKeyValues - with `startAtPosition` p > 0: `{ key, value }` per block index,
 *   `[batch, p, nHeads, dHead]` (the `attn.hook_k` / `hook_v` layout), for every block the pass runs.
 * Limitations: token ids are checked against the vocabulary only on backends whose tensors live in
 * host memory (cpu, wasm, tensorflow); on webgl/webgpu that check would stall the GPU each pass.
 * @throws InvalidArgumentError / ShapeMismatchError for a non-tensor, float tokens, a wrong rank,
 *   an empty input, more positions than nCtx, a token id outside the vocabulary, or an option out
 *   of range; nothing is allocated when it throws.
 * @example
 * ```ts
 * const logits = gpt2Forward(config, weights, tf.tensor2d([[50256, 5335]], [1, 2], 'int32'));
 * const last = gpt2Forward(config, weights, tokens, { unembed: { positions: [-1], tokens: [5335, 1757] } });
 * ```
 */
export function gpt2Forward(
  config: GPT2Config,
  weights: GPT2Weights,
  input: tf.Tensor,
  options: GPT2ForwardOptions = {},
): tf.Tensor {
  const plan = planForward(config, input, options, 'gpt2Forward');
  if (weights.blocks.length !== config.nLayers) {
    throw new InvalidArgumentError(
      `gpt2Forward: weights have ${weights.blocks.length} blocks but config.nLayers is ${config.nLayers}.`,
    );
  }
  return runForward(config, weights, input, options, plan);
}

/** The forward pass after validation (see {@link gpt2Forward}). */
export function runForward(
  config: GPT2Config,
  weights: GPT2Weights,
  input: tf.Tensor,
  options: GPT2ForwardOptions,
  plan: ForwardPlan,
): tf.Tensor {
  return tf.tidy(() => {
    const hooks = hookRunner(options.hooks);
    let residual =
      options.startAtLayer === undefined
        ? embed(input as tf.Tensor2D, weights, hooks, plan)
        : (input as tf.Tensor3D);
    const context: BlockContext = {
      config,
      hooks,
      mask: causalMask(plan.positions, plan.startPosition),
      useAttnResult: options.useAttnResult ?? false,
      pastKeyValues: plan.pastKeyValues,
    };
    for (let layer = plan.startAtLayer; layer < plan.stopAtLayer; layer++) {
      // one scope per block: a block's intermediates are freed before the next block runs, so a
      // pass holds one block's activations, not every block's (a K×B patching pass at 64
      // positions held ~1 GB more on GPT-2 small); hooks keep what they store (tf.keep)
      const blockInput = residual;
      residual = tf.tidy(() =>
        transformerBlock(blockInput, layer, weights.blocks[layer]!, context),
      );
    }
    if (plan.returnResidual) return residual === input ? tf.clone(residual) : residual;
    return unembed(residual, weights, config, hooks, plan);
  });
}
