import { type ActivationCache, captureActivations } from '@patchlens/activation-cache';
import {
  type ForwardOptions,
  type HookedModel,
  type HookName,
  HookRegistry,
  type HookSpec,
  InvalidArgumentError,
  type ModelCapabilities,
  type ModelConfig,
  type RunWithCacheOptions,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

/** Dimensions of a {@link ToyAttentionModel}; `nKeyValueHeads` must divide `nHeads`. */
export interface ToyAttentionConfig {
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKeyValueHeads: number;
  readonly dModel: number;
  readonly dHead: number;
  readonly dMlp: number;
  readonly dVocab: number;
  readonly nCtx: number;
}

/** The default toy: 2 layers, 4 query heads sharing 2 key/value heads (grouped-query attention). */
export const TOY_CONFIG: ToyAttentionConfig = {
  nLayers: 2,
  nHeads: 4,
  nKeyValueHeads: 2,
  dModel: 16,
  dHead: 4,
  dMlp: 32,
  dVocab: 23,
  nCtx: 16,
};

const BLOCK_SUFFIXES = [
  'hook_resid_pre',
  'attn.hook_q',
  'attn.hook_k',
  'attn.hook_v',
  'attn.hook_attn_scores',
  'attn.hook_pattern',
  'attn.hook_z',
  'hook_attn_out',
  'hook_resid_mid',
  'mlp.hook_pre',
  'mlp.hook_post',
  'hook_mlp_out',
  'hook_resid_post',
] as const;

/** mulberry32: a small seeded PRNG, so the toy's weights are the same on every run. */
function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface BlockWeights {
  readonly ln1Weight: tf.Tensor1D;
  readonly ln1Bias: tf.Tensor1D;
  readonly W_Q: tf.Tensor2D;
  readonly W_K: tf.Tensor2D;
  readonly W_V: tf.Tensor2D;
  readonly W_O: tf.Tensor2D;
  readonly b_O: tf.Tensor1D;
  readonly ln2Weight: tf.Tensor1D;
  readonly ln2Bias: tf.Tensor1D;
  readonly W_in: tf.Tensor2D;
  readonly b_in: tf.Tensor1D;
  readonly W_out: tf.Tensor2D;
  readonly b_out: tf.Tensor1D;
}

/**
 * A tiny pre-LayerNorm transformer with grouped-query attention (`nKeyValueHeads < nHeads`), for tests.
 *
 * Hook points: `hook_embed`, `hook_pos_embed` and, per block, `hook_resid_pre`, `attn.hook_{q,k,v}`
 * (k and v have `nKeyValueHeads` heads), `attn.hook_attn_scores`, `attn.hook_pattern`, `attn.hook_z`,
 * `hook_attn_out`, `hook_resid_mid`, `mlp.hook_{pre,post}`, `hook_mlp_out`, `hook_resid_post`.
 * Supports `startAtLayer`, `stopAtLayer` and selective unembedding. Call `dispose()` when done.
 *
 * @example
 * ```ts
 * const model = new ToyAttentionModel(TOY_CONFIG, 7);
 * const logits = model.forward(tf.tensor2d([[1, 2, 3]], undefined, 'int32')); // [1, 3, 23]
 * ```
 */
export class ToyAttentionModel implements HookedModel<ActivationCache> {
  readonly config: ModelConfig;
  readonly hookNames: readonly HookName[];
  readonly hooks: HookRegistry;
  readonly capabilities: ModelCapabilities;
  private readonly W_E: tf.Tensor2D;
  private readonly W_pos: tf.Tensor2D;
  private readonly W_U: tf.Tensor2D;
  private readonly lnFinalWeight: tf.Tensor1D;
  private readonly lnFinalBias: tf.Tensor1D;
  private readonly blocks: BlockWeights[];

  /**
   * @param config - dimensions (default {@link TOY_CONFIG}).
   * @param seed - weight seed (default 1).
   * @param capabilities - which shortcuts to advertise (default all three).
   */
  constructor(
    config: ToyAttentionConfig = TOY_CONFIG,
    seed = 1,
    capabilities: ModelCapabilities = {
      startAtLayer: true,
      stopAtLayer: true,
      selectiveUnembed: true,
    },
  ) {
    if (config.nHeads % config.nKeyValueHeads !== 0) {
      throw new InvalidArgumentError(
        `ToyAttentionModel: nKeyValueHeads (${config.nKeyValueHeads}) must divide nHeads (${config.nHeads}).`,
      );
    }
    this.config = { ...config };
    this.capabilities = capabilities;
    const names: HookName[] = ['hook_embed', 'hook_pos_embed'];
    for (let layer = 0; layer < config.nLayers; layer++) {
      for (const suffix of BLOCK_SUFFIXES) names.push(`blocks.${layer}.${suffix}`);
    }
    this.hookNames = names;
    this.hooks = new HookRegistry(names);
    const random = randomGenerator(seed);
    const matrix = (rows: number, columns: number, scale: number): tf.Tensor2D =>
      tf.tensor2d(
        Float32Array.from({ length: rows * columns }, () => (random() * 2 - 1) * scale),
        [rows, columns],
      );
    const vector = (size: number, center: number, scale: number): tf.Tensor1D =>
      tf.tensor1d(Float32Array.from({ length: size }, () => center + (random() * 2 - 1) * scale));
    const { dModel, dHead, nHeads, nKeyValueHeads, dMlp, dVocab, nCtx } = config;
    this.W_E = matrix(dVocab, dModel, 1);
    this.W_pos = matrix(nCtx, dModel, 0.5);
    this.blocks = Array.from({ length: config.nLayers }, () => ({
      ln1Weight: vector(dModel, 1, 0.2),
      ln1Bias: vector(dModel, 0, 0.1),
      W_Q: matrix(dModel, nHeads * dHead, 0.6),
      W_K: matrix(dModel, nKeyValueHeads * dHead, 0.6),
      W_V: matrix(dModel, nKeyValueHeads * dHead, 0.6),
      W_O: matrix(nHeads * dHead, dModel, 0.4),
      b_O: vector(dModel, 0, 0.1),
      ln2Weight: vector(dModel, 1, 0.2),
      ln2Bias: vector(dModel, 0, 0.1),
      W_in: matrix(dModel, dMlp, 0.4),
      b_in: vector(dMlp, 0, 0.1),
      W_out: matrix(dMlp, dModel, 0.3),
      b_out: vector(dModel, 0, 0.1),
    }));
    this.lnFinalWeight = vector(dModel, 1, 0.2);
    this.lnFinalBias = vector(dModel, 0, 0.1);
    this.W_U = matrix(dModel, dVocab, 1);
  }

  /** Logits `[batch, pos, dVocab]` (or the selection / the residual stream, per `options`). */
  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.run(input, options));
  }

  /** `forward` with `hooks` attached for this call only. */
  runWithHooks(
    input: tf.Tensor,
    hooks: readonly HookSpec[],
    options: ForwardOptions = {},
  ): tf.Tensor {
    return this.hooks.withHooks(hooks, () => this.forward(input, options));
  }

  /** `forward` that also returns the activations at the hook points `namesFilter` selects. */
  runWithCache(
    input: tf.Tensor,
    options: RunWithCacheOptions = {},
  ): { logits: tf.Tensor; cache: ActivationCache } {
    const { namesFilter, ...forwardOptions } = options;
    const { result, cache } = captureActivations(this.hooks, namesFilter, () =>
      this.forward(input, forwardOptions),
    );
    return { logits: result, cache };
  }

  /** Free the weights. */
  dispose(): void {
    tf.dispose([this.W_E, this.W_pos, this.W_U, this.lnFinalWeight, this.lnFinalBias]);
    for (const block of this.blocks) tf.dispose(Object.values(block));
  }

  private run(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const { nLayers, dModel, dHead, nHeads } = this.config;
    const nKeyValueHeads = this.config.nKeyValueHeads ?? nHeads;
    const startAtLayer = options.startAtLayer ?? 0;
    const stopAtLayer = options.stopAtLayer ?? nLayers;
    const run = (name: HookName, activation: tf.Tensor) => this.hooks.run(name, activation);
    let resid: tf.Tensor3D;
    if (options.startAtLayer === undefined) {
      const [batch, positions] = input.shape as [number, number];
      const embed = run('hook_embed', tf.gather(this.W_E, input)); // [batch, pos, d_model]
      const positionEmbed = run(
        'hook_pos_embed',
        tf.tile(tf.expandDims(tf.slice(this.W_pos, [0, 0], [positions, dModel]), 0), [batch, 1, 1]),
      ); // [batch, pos, d_model]
      resid = tf.add(embed, positionEmbed);
    } else {
      resid = input as tf.Tensor3D;
    }
    const [batch, positions] = resid.shape;
    const linear = (x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor => {
      const flat = tf.reshape(x, [batch * positions, x.shape[2]!]); // [batch*pos, d_in]
      const product = tf.matMul(flat, weight); // [batch*pos, d_out]
      const withBias = bias ? tf.add(product, bias) : product;
      return tf.reshape(withBias, [batch, positions, weight.shape[1]]); // [batch, pos, d_out]
    };
    const causal = tf.tensor2d(
      Array.from(
        { length: positions * positions },
        (_, i) => i % positions <= Math.floor(i / positions),
      ),
      [positions, positions],
      'bool',
    ); // [pos_q, pos_k]: key position <= query position
    const groupSize = nHeads / nKeyValueHeads;
    const headToKeyValue = tf.tensor1d(
      Array.from({ length: nHeads }, (_, head) => Math.floor(head / groupSize)),
      'int32',
    );
    for (let layer = startAtLayer; layer < stopAtLayer; layer++) {
      const block = this.blocks[layer]!;
      const prefix = `blocks.${layer}` as const;
      resid = run(`${prefix}.hook_resid_pre`, resid) as tf.Tensor3D;
      const normalized1 = layerNorm(resid, block.ln1Weight, block.ln1Bias);
      const q = run(
        `${prefix}.attn.hook_q`,
        tf.reshape(linear(normalized1, block.W_Q), [batch, positions, nHeads, dHead]),
      ); // [batch, pos, head, d_head]
      const k = run(
        `${prefix}.attn.hook_k`,
        tf.reshape(linear(normalized1, block.W_K), [batch, positions, nKeyValueHeads, dHead]),
      ); // [batch, pos, kv_head, d_head]
      const v = run(
        `${prefix}.attn.hook_v`,
        tf.reshape(linear(normalized1, block.W_V), [batch, positions, nKeyValueHeads, dHead]),
      ); // [batch, pos, kv_head, d_head]
      const kExpanded = tf.gather(k, headToKeyValue, 2); // [batch, pos, head, d_head]
      const vExpanded = tf.gather(v, headToKeyValue, 2); // [batch, pos, head, d_head]
      const qByHead = tf.transpose(q, [0, 2, 1, 3]); // [batch, head, pos_q, d_head]
      const kByHead = tf.transpose(kExpanded, [0, 2, 3, 1]); // [batch, head, d_head, pos_k]
      const rawScores = tf.div(tf.matMul(qByHead, kByHead), Math.sqrt(dHead)); // [batch, head, pos_q, pos_k]
      const scores = run(
        `${prefix}.attn.hook_attn_scores`,
        tf.where(causal, rawScores, tf.fill(rawScores.shape, Number.NEGATIVE_INFINITY)),
      );
      const pattern = run(`${prefix}.attn.hook_pattern`, tf.softmax(scores, -1)); // [batch, head, pos_q, pos_k]
      const vByHead = tf.transpose(vExpanded, [0, 2, 1, 3]); // [batch, head, pos_k, d_head]
      const z = run(
        `${prefix}.attn.hook_z`,
        tf.transpose(tf.matMul(pattern, vByHead), [0, 2, 1, 3]),
      ); // [batch, pos, head, d_head]
      const attnOut = run(
        `${prefix}.hook_attn_out`,
        linear(tf.reshape(z, [batch, positions, nHeads * dHead]), block.W_O, block.b_O),
      ); // [batch, pos, d_model]
      const residMid = run(`${prefix}.hook_resid_mid`, tf.add(resid, attnOut));
      const normalized2 = layerNorm(residMid, block.ln2Weight, block.ln2Bias);
      const pre = run(`${prefix}.mlp.hook_pre`, linear(normalized2, block.W_in, block.b_in)); // [batch, pos, d_mlp]
      const post = run(`${prefix}.mlp.hook_post`, geluNew(pre));
      const mlpOut = run(`${prefix}.hook_mlp_out`, linear(post, block.W_out, block.b_out)); // [batch, pos, d_model]
      resid = run(`${prefix}.hook_resid_post`, tf.add(residMid, mlpOut)) as tf.Tensor3D;
    }
    if (options.stopAtLayer !== undefined) return resid;
    let final: tf.Tensor = layerNorm(resid, this.lnFinalWeight, this.lnFinalBias); // [batch, pos, d_model]
    const selection = options.unembed;
    if (selection?.positions !== undefined) {
      const indices = selection.positions.map((p) => (p < 0 ? p + positions : p));
      final = tf.gather(final, tf.tensor1d(indices, 'int32'), 1); // [batch, n_selected, d_model]
    }
    let W_U: tf.Tensor2D = this.W_U;
    if (selection?.tokens !== undefined) {
      W_U = tf.gather(W_U, tf.tensor1d([...selection.tokens], 'int32'), 1); // [d_model, n_tokens]
    }
    const rows = final.shape[1]!;
    const logits = tf.matMul(tf.reshape(final, [batch * rows, dModel]), W_U); // [batch*rows, vocab]
    return tf.reshape(logits, [batch, rows, W_U.shape[1]]); // [batch, rows, vocab]
  }
}

function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D): tf.Tensor {
  const centered = tf.sub(x, tf.mean(x, -1, true)); // [batch, pos, d_model]
  const scale = tf.sqrt(tf.add(tf.mean(tf.square(centered), -1, true), 1e-5)); // [batch, pos, 1]
  return tf.add(tf.mul(tf.div(centered, scale), weight), bias);
}

function geluNew(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}
