import type * as tf from '@tensorflow/tfjs-core';
import type { HookName } from './hook-names.js';
import type { HookFilter, HookRegistry, HookSpec } from './hook-registry.js';

/**
 * Model dimensions, with TransformerLens's config names in camelCase.
 *
 * @example
 * ```ts
 * const gpt2Small: ModelConfig = { nLayers: 12, nHeads: 12, nKeyValueHeads: null, dModel: 768,
 *   dHead: 64, dMlp: 3072, dVocab: 50257, nCtx: 1024 };
 * ```
 */
export interface ModelConfig {
  /** Number of transformer blocks. */
  readonly nLayers: number;
  /** Number of attention (query) heads. */
  readonly nHeads: number;
  /** Number of key/value heads for grouped-query attention; null when every head has its own (GPT-2). */
  readonly nKeyValueHeads: number | null;
  /** Width of the residual stream. */
  readonly dModel: number;
  /** Width of one attention head. */
  readonly dHead: number;
  /** Width of the MLP hidden layer. */
  readonly dMlp: number;
  /** Vocabulary size. */
  readonly dVocab: number;
  /** Maximum sequence length. */
  readonly nCtx: number;
}

/**
 * Which logits a forward pass computes: a subset of positions and/or vocabulary ids. The
 * `unembed.hook_out` hook point then sees the selected logits `[batch, positions, tokens]`.
 *
 * @example
 * ```ts
 * const lastTwoAnswers: UnembedSelection = { positions: [-1], tokens: [5335, 1757] };
 * ```
 */
export interface UnembedSelection {
  /** Positions to unembed (negative counts from the end); default all. */
  readonly positions?: readonly number[];
  /** Vocabulary ids to unembed; default all. */
  readonly tokens?: readonly number[];
}

/**
 * One block's keys and values for the positions before `startAtPosition`, in the hook layout of
 * `attn.hook_k` / `attn.hook_v`: `[batch, positions, keyValueHeads, dHead]` (after any hooks there).
 * With rotary positions these are the keys *before* rotation (`hook_k`, not `hook_rot_k`): the
 * model rotates them with their absolute positions 0..p-1.
 *
 * @example
 * ```ts
 * const past: PastKeyValue = { key: cache.get('blocks.2.attn.hook_k'), value: cache.get('blocks.2.attn.hook_v') };
 * ```
 */
export interface PastKeyValue {
  /** Keys `[batch, startAtPosition, keyValueHeads, dHead]`. */
  readonly key: tf.Tensor;
  /** Values `[batch, startAtPosition, keyValueHeads, dHead]`. */
  readonly value: tf.Tensor;
}

/**
 * Options of {@link HookedModel.forward}.
 *
 * @example
 * ```ts
 * const residAtBlock2 = model.forward(tokens, { stopAtLayer: 2 }); // [batch, pos, dModel]
 * ```
 */
export interface ForwardOptions {
  /**
   * Start at this block, with the input being the residual stream entering it (`[batch, pos, dModel]`)
   * instead of token ids. Hooks before this block do not run.
   */
  readonly startAtLayer?: number;
  /** Stop before this block and return the residual stream entering it (`[batch, pos, dModel]`). */
  readonly stopAtLayer?: number;
  /** Unembed only these positions/tokens: logits become `[batch, positions, tokens]`. */
  readonly unembed?: UnembedSelection;
  /**
   * Compute only positions `>= startAtPosition` (needs `startAtLayer` and `pastKeyValues`): the
   * input is the residual stream of those positions `[batch, pos - p, dModel]`, and attention reads
   * the earlier positions' keys/values from `pastKeyValues`. Hooks see the suffix only
   * (`[batch, pos - p, ...]`; attention scores/pattern `[batch, head, pos - p, pos]`), so results
   * equal the full pass only when every hook acts causally per position. `unembed.positions` count
   * in the full sequence (and must be `>= p`); without them logits are `[batch, pos - p, dVocab]`.
   */
  readonly startAtPosition?: number;
  /**
   * With `startAtPosition` p: the keys/values of positions `< p` per block index (entries needed
   * for every block the pass runs), `[batch, p, keyValueHeads, dHead]` each.
   */
  readonly pastKeyValues?: readonly (PastKeyValue | undefined)[];
}

/**
 * The minimum an activation cache offers: lookups by full hook name and disposal
 * (`@patchlens/activation-cache`'s `ActivationCache` implements it).
 *
 * @example
 * ```ts
 * function residPre(cache: ActivationCacheLike, layer: number) {
 *   return cache.get(`blocks.${layer}.hook_resid_pre`);
 * }
 * ```
 */
export interface ActivationCacheLike {
  /** The activation at a full hook name; the cache keeps ownership. */
  get(name: string): tf.Tensor;
  /** True when the activation is cached. */
  has(name: string): boolean;
  /** Full hook names of the cached activations. */
  keys(): string[];
  /** Free every cached tensor. */
  dispose(): void;
}

/**
 * Options of {@link HookedModel.runWithCache}.
 *
 * @example
 * ```ts
 * const { logits, cache } = model.runWithCache(tokens, { namesFilter: /hook_z$/ });
 * ```
 */
export interface RunWithCacheOptions extends ForwardOptions {
  /** Which activations to keep (default all). */
  readonly namesFilter?: HookFilter;
}

/**
 * The optional shortcuts a model offers to the fast patching engine.
 *
 * @example
 * ```ts
 * if (model.capabilities.startAtLayer) model.forward(cachedResid, { startAtLayer: 3 });
 * ```
 */
export interface ModelCapabilities {
  /** `forward(residual, {startAtLayer})` is supported. */
  readonly startAtLayer: boolean;
  /** `forward(tokens, {stopAtLayer})` is supported. */
  readonly stopAtLayer: boolean;
  /** `forward(tokens, {unembed})` is supported. */
  readonly selectiveUnembed: boolean;
  /**
   * `forward(residualSuffix, {startAtLayer, startAtPosition, pastKeyValues})` is supported
   * (causal attention reusing earlier positions' keys/values); absent means false.
   */
  readonly startAtPosition?: boolean;
}

/**
 * How a worker thread builds a copy of a model: `import(module)[exportName](argument)` returns
 * the model (or a promise of it), on the worker's own backend. `argument` must survive
 * `structuredClone` (weights as typed arrays, ideally over a SharedArrayBuffer so workers read the
 * same bytes without a copy each).
 *
 * @example
 * ```ts
 * const source: ModelWorkerSource = { module: import.meta.url, exportName: 'fromWorkerSource', argument: { config, weights } };
 * ```
 */
export interface ModelWorkerSource {
  /** An absolute module URL (`file:` in Node). */
  readonly module: string;
  /** The export of `module` that builds the model from `argument`. */
  readonly exportName: string;
  /** Structured-cloneable data the builder needs (config, weights, options). */
  readonly argument: unknown;
}

/**
 * The weights residual-stream analysis reads (TransformerLens's `model.W_U`, `model.ln_final`, ...),
 * owned by the model: do not dispose them.
 *
 * @example
 * ```ts
 * const { W_U, b_U } = model.analysisWeights!;
 * const answerDirection = tf.gather(W_U, [5335], 1); // [dModel, 1]
 * ```
 */
export interface AnalysisWeights {
  /** `LN`: LayerNorms with weight and bias; `LNPre`: folded into the next linear map (centre and scale only). */
  readonly normalizationType: 'LN' | 'LNPre';
  /** LayerNorm epsilon. */
  readonly eps: number;
  /** The final LayerNorm's weight and bias, `[dModel]` each; null when folded (`LNPre`). */
  readonly lnFinal: { readonly w: tf.Tensor1D; readonly b: tf.Tensor1D } | null;
  /** Unembedding `[dModel, dVocab]`. */
  readonly W_U: tf.Tensor2D;
  /** Unembedding bias `[dVocab]`. */
  readonly b_U: tf.Tensor1D;
  /** Per layer, every head's output matrix stacked: `[nHeads * dHead, dModel]`, row `h * dHead + d` = TransformerLens's `W_O[h, d, :]`. */
  readonly W_O: readonly tf.Tensor2D[];
  /** Per layer, the attention output bias `[dModel]`. */
  readonly b_O: readonly tf.Tensor1D[];
}

/**
 * What patching programs against: a transformer with named hook points.
 *
 * `forward` is synchronous (tfjs ops), so it can run inside `tf.tidy` and `tf.grads`.
 *
 * @example
 * ```ts
 * function lastLogits(model: HookedModel, tokens: tf.Tensor2D) {
 *   return tf.tidy(() => model.forward(tokens, { unembed: { positions: [-1] } }));
 * }
 * ```
 */
export interface HookedModel<Cache extends ActivationCacheLike = ActivationCacheLike> {
  /** The model's dimensions. */
  readonly config: ModelConfig;
  /** Every hook point, in forward order. */
  readonly hookNames: readonly HookName[];
  /** The model's hook points; `hooks.add`, `hooks.withHooks`, `hooks.reset`. */
  readonly hooks: HookRegistry;
  /** Which fast-path options `forward` supports. */
  readonly capabilities: ModelCapabilities;
  /** The weights residual-stream analysis needs (unembedding, final LayerNorm, W_O); absent when the model does not expose them. */
  readonly analysisWeights?: AnalysisWeights;
  /**
   * Logits `[batch, pos, dVocab]` for int32 tokens `[batch, pos]` (or the residual stream with `startAtLayer`;
   * with `startAtPosition` p too, that of positions >= p, and logits `[batch, pos - p, dVocab]`).
   * The caller owns the result.
   */
  forward(input: tf.Tensor, options?: ForwardOptions): tf.Tensor;
  /** `forward` with extra hooks for this call only (removed afterwards, also on error). */
  runWithHooks(input: tf.Tensor, hooks: readonly HookSpec[], options?: ForwardOptions): tf.Tensor;
  /** `forward` that also returns the activations at the selected hook points. The caller owns both. */
  runWithCache(
    input: tf.Tensor,
    options?: RunWithCacheOptions,
  ): { logits: tf.Tensor; cache: Cache };
  /**
   * How a worker thread builds a copy of this model (same weights, same options); absent: the
   * model cannot be copied and sweeps run on the calling thread only.
   */
  workerSource?(): ModelWorkerSource;
}
