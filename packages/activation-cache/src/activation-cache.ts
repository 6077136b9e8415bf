import {
  type ActivationCacheLike,
  actName,
  closestNames,
  type HookedModel,
  type HookName,
  InvalidArgumentError,
  layerOfHook,
  ShapeMismatchError,
  UnknownHookError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type ApplyLnOptions, applyLnToStack } from './apply-ln-to-stack.js';
import { type LogitAttrsOptions, logitAttrs } from './logit-attrs.js';
import {
  type AccumulatedResidOptions,
  accumulatedResid,
  type DecomposeResidOptions,
  decomposeResid,
  type LabelledStack,
  type StackHeadResultsOptions,
  stackHeadResults,
} from './residual-stack.js';

/** A stack, or `[stack, labels]` when `returnLabels` is true. */
type StackOrLabelled<Options> = Options extends { returnLabels: true }
  ? [tf.Tensor, string[]]
  : tf.Tensor;

function withLabels(result: LabelledStack, returnLabels: boolean | undefined) {
  return returnLabels ? [result.stack, result.labels] : result.stack;
}

/**
 * One activation exported to plain memory: a row-major copy of its values.
 *
 * @example
 * ```ts
 * const { shape, dtype, data } = (await cache.toArrays()).get('blocks.0.hook_resid_pre')!;
 * ```
 */
export interface ActivationArray {
  /** The activation's shape, e.g. `[batch, pos, dModel]`. */
  readonly shape: number[];
  /** tfjs dtype of the values. */
  readonly dtype: 'float32' | 'int32' | 'bool';
  /** The values, row-major; bool values are 0/1 bytes. Owned by the caller (a copy). */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/**
 * Options of the {@link ActivationCache} constructor.
 *
 * @example
 * ```ts
 * new ActivationCache(tensors, { nLayers: 12, hasBatchDim: false });
 * ```
 */
export interface ActivationCacheOptions {
  /** The model's block count, to resolve negative layers (default: one more than the largest layer among the keys). */
  readonly nLayers?: number;
  /** Whether axis 0 of every activation is the batch axis (default true). */
  readonly hasBatchDim?: boolean;
  /** The model the activations came from (TransformerLens keeps it too): the residual-stream analysis reads its weights. Not owned. */
  readonly model?: HookedModel;
}

/**
 * Activations captured during a forward pass, keyed by full hook name (TransformerLens's
 * `ActivationCache`).
 *
 * Owns its tensors: `dispose()` (or `using cache = …`) frees them all. Lookups accept full names,
 * `actName` short forms and `(kind, layer)` pairs with negative layers counting from the end.
 * There is no `toCpu`: a tfjs tensor belongs to the active backend, so {@link ActivationCache.toArrays}
 * is the way to move activations out (to JSON, safetensors or a worker).
 *
 * @example
 * ```ts
 * const { logits, cache } = model.runWithCache(tokens);
 * const z = cache.get('z', -1);            // blocks.{nLayers-1}.attn.hook_z
 * const resid = cache.get('blocks.0.hook_resid_pre');
 * cache.dispose(); logits.dispose();
 * ```
 */
export class ActivationCache implements ActivationCacheLike {
  /** Number of blocks of the model the cache came from (resolves negative layers). */
  readonly nLayers: number;
  /** The model the activations came from (set by `model.runWithCache`); not owned by the cache. */
  readonly model: HookedModel | undefined;
  private readonly tensors: Map<string, tf.Tensor>;
  private batchDim: boolean;
  private disposed = false;

  /**
   * @param tensors - activations by full hook name; the cache takes ownership (it disposes them).
   * @param options.nLayers - the model's block count (default: one more than the largest layer among the keys).
   * @param options.hasBatchDim - whether axis 0 is the batch axis (default true).
   * @example
   * ```ts
   * const cache = new ActivationCache(new Map([['blocks.0.hook_resid_pre', tf.zeros([1, 4, 8])]]), { nLayers: 2 });
   * ```
   */
  constructor(tensors: ReadonlyMap<string, tf.Tensor>, options: ActivationCacheOptions = {}) {
    this.tensors = new Map(tensors);
    let largest = -1;
    for (const name of this.tensors.keys()) largest = Math.max(largest, layerOfHook(name) ?? -1);
    const nLayers = options.nLayers ?? largest + 1;
    if (!Number.isInteger(nLayers) || nLayers < 0) {
      throw new InvalidArgumentError(
        `ActivationCache: options.nLayers must be an integer >= 0, got ${String(options.nLayers)}.`,
      );
    }
    this.nLayers = nLayers;
    this.batchDim = options.hasBatchDim ?? true;
    this.model = options.model;
  }

  /**
   * Number of cached activations (0 after dispose).
   *
   * @example
   * ```ts
   * cache.size === cache.keys().length; // true
   * ```
   */
  get size(): number {
    return this.tensors.size;
  }

  /**
   * Whether axis 0 of every activation is the batch axis (false after {@link ActivationCache.removeBatchDim}).
   *
   * @example
   * ```ts
   * cache.removeBatchDim().hasBatchDim; // false
   * ```
   */
  get hasBatchDim(): boolean {
    return this.batchDim;
  }

  /**
   * Full hook names of the cached activations, in capture order (forward order for a model's cache).
   *
   * @example
   * ```ts
   * cache.keys(); // ['hook_embed', 'hook_pos_embed', 'blocks.0.hook_resid_pre', …]
   * ```
   */
  keys(): string[] {
    return [...this.tensors.keys()];
  }

  /**
   * True when the activation is cached. Takes the same arguments as {@link ActivationCache.get};
   * returns false (never throws) for names or layers that do not resolve.
   *
   * @example
   * ```ts
   * cache.has('resid_pre', -1); // is the last block's resid_pre cached?
   * ```
   */
  has(name: string, layer?: number, layerType?: string): boolean {
    try {
      return this.tensors.has(this.resolveName('has', name, layer, layerType));
    } catch {
      return false;
    }
  }

  /**
   * The activation at a hook point. The cache keeps ownership: do not dispose the result.
   *
   * @param name - full hook name (`blocks.0.attn.hook_z`), short kind (`z`, `resid_pre`, `attn`) or compact form (`k6`).
   * @param layer - block index for short kinds; negative counts from the end (-1 = last block).
   * @param layerType - `ln1`/`ln2` for `scale`/`normalized`.
   * @throws UnknownHookError when the activation is not in the cache (listing the closest cached
   *   names) or the short name resolves to no hook point.
   * @throws InvalidArgumentError for a layer outside `-nLayers..nLayers-1`, or after dispose.
   * @example
   * ```ts
   * cache.get('blocks.1.attn.hook_pattern'); // full name
   * cache.get('pattern', 1);                 // the same
   * cache.get('attn', -1);                   // the last block's pattern
   * cache.get('scale', 0, 'ln1');            // blocks.0.ln1.hook_scale
   * ```
   */
  get(name: string, layer?: number, layerType?: string): tf.Tensor {
    this.assertAlive('get');
    const full = this.resolveName('get', name, layer, layerType);
    const tensor = this.tensors.get(full);
    if (!tensor) {
      throw new UnknownHookError(
        full,
        closestNames(full, this.keys()),
        ' (ActivationCache.get: not in this cache; was it excluded by namesFilter?)',
      );
    }
    return tensor;
  }

  /**
   * `[name, activation]` pairs in capture order; the cache keeps ownership of the tensors.
   *
   * @example
   * ```ts
   * for (const [name, activation] of cache) console.log(name, activation.shape);
   * ```
   */
  *[Symbol.iterator](): IterableIterator<[string, tf.Tensor]> {
    this.assertAlive('iterate');
    yield* this.tensors.entries();
  }

  /**
   * Drop the batch axis of every activation (batch size 1 only), in place; returns this cache
   * (TransformerLens `remove_batch_dim`).
   *
   * @throws ShapeMismatchError when an activation's batch size is not 1 (the cache is left unchanged).
   * @throws InvalidArgumentError when the batch axis was already removed.
   * @example
   * ```ts
   * cache.removeBatchDim().get('blocks.0.hook_resid_pre').shape; // [pos, dModel]
   * ```
   */
  removeBatchDim(): this {
    this.assertAlive('removeBatchDim');
    if (!this.batchDim) {
      throw new InvalidArgumentError(
        'ActivationCache.removeBatchDim: the batch axis was already removed from this cache.',
      );
    }
    for (const [name, tensor] of this.tensors) {
      if (tensor.rank === 0 || tensor.shape[0] !== 1) {
        throw new ShapeMismatchError(
          `ActivationCache.removeBatchDim: "${name}" has shape [${tensor.shape}]; only a batch size of 1 can be removed. Use sliceBatch(b, b + 1) first.`,
          { expected: [1], actual: tensor.shape },
        );
      }
    }
    for (const [name, tensor] of this.tensors) {
      this.tensors.set(name, tf.squeeze(tensor, [0]));
      tensor.dispose();
    }
    this.batchDim = false;
    return this;
  }

  /**
   * A new cache with batch rows `[start, end)` of every activation (end defaults to start + 1).
   * The new cache owns its own tensors; this one is unchanged.
   *
   * @param start - first row (an integer >= 0).
   * @param end - one past the last row (default `start + 1`).
   * @throws InvalidArgumentError for rows outside the batch, or when the batch axis was removed.
   * @example
   * ```ts
   * using second = cache.sliceBatch(1); // batch row 1 only, batch axis kept (size 1)
   * ```
   */
  sliceBatch(start: number, end = start + 1): ActivationCache {
    this.assertAlive('sliceBatch');
    if (!this.batchDim) {
      throw new InvalidArgumentError(
        'ActivationCache.sliceBatch: this cache has no batch axis (removeBatchDim was called).',
      );
    }
    const sliced = new Map<string, tf.Tensor>();
    try {
      for (const [name, tensor] of this.tensors) {
        const batch = tensor.shape[0] ?? 0;
        if (
          !Number.isInteger(start) ||
          !Number.isInteger(end) ||
          start < 0 ||
          end > batch ||
          start >= end
        ) {
          throw new InvalidArgumentError(
            `ActivationCache.sliceBatch: rows [${start}, ${end}) are outside "${name}"'s batch of ${batch}; accepted: integers 0 <= start < end <= ${batch}.`,
          );
        }
        sliced.set(name, tf.slice(tensor, [start], [end - start]));
      }
    } catch (error) {
      tf.dispose([...sliced.values()]);
      throw error;
    }
    return new ActivationCache(sliced, {
      nLayers: this.nLayers,
      ...(this.model ? { model: this.model } : {}),
    });
  }

  /**
   * TransformerLens `accumulated_resid`: the residual stream entering each block up to `layer`
   * (default: all, plus `final_post`), stacked `[components, batch, (pos,) dModel]`; labels `{l}_pre`,
   * `{l}_mid` (with `inclMid`), `final_post`. With `applyLn` and no layer (or the last), the final
   * LayerNorm is re-run on each component with its own statistics (the logit lens). The caller
   * disposes the result.
   *
   * @param layer - stack up to the input of this block; undefined, -1 or nLayers = everything.
   * @param options - `inclMid`, `applyLn`, `posSlice` (-1 drops the position axis), `returnLabels`.
   * @example
   * ```ts
   * const [stack, labels] = cache.accumulatedResid(undefined, { applyLn: true, posSlice: -1, returnLabels: true });
   * ```
   */
  accumulatedResid<Options extends AccumulatedResidOptions = AccumulatedResidOptions>(
    layer?: number,
    options?: Options,
  ): StackOrLabelled<Options> {
    this.assertAlive('accumulatedResid');
    return withLabels(
      accumulatedResid(this, layer, options),
      options?.returnLabels,
    ) as StackOrLabelled<Options>;
  }

  /**
   * TransformerLens `decompose_resid`: the residual stream entering `layer` as its parts, stacked:
   * `embed`, `pos_embed`, `{l}_attn_out`, `{l}_mlp_out`. With `applyLn`, each part is centred and
   * divided by the **cached** scale of the target LayerNorm. The caller disposes the result.
   *
   * @param layer - decompose the input of this block; undefined, -1 or nLayers = the final stream.
   * @param options - `mode` ('all' | 'attn' | 'mlp'), `inclEmbeds`, `mlpInput`, `applyLn`, `posSlice`, `returnLabels`.
   * @example
   * ```ts
   * const parts = cache.decomposeResid(undefined, { posSlice: -1 }); // [2 + 2 * nLayers, batch, dModel]
   * ```
   */
  decomposeResid<Options extends DecomposeResidOptions = DecomposeResidOptions>(
    layer?: number,
    options?: Options,
  ): StackOrLabelled<Options> {
    this.assertAlive('decomposeResid');
    return withLabels(
      decomposeResid(this, layer, options),
      options?.returnLabels,
    ) as StackOrLabelled<Options>;
  }

  /**
   * TransformerLens `stack_head_results`: every head's output into the residual stream before
   * `layer`, `L{l}H{h}`, from `attn.hook_result` when cached, else from `hook_z` and the model's
   * W_O; `inclRemainder` adds the rest of the stream. The caller disposes the result.
   *
   * @param layer - heads of blocks before this one; undefined, -1 or nLayers = every block.
   * @param options - `returnLabels`, `inclRemainder`, `applyLn`, `posSlice`.
   * @example
   * ```ts
   * const [heads, labels] = cache.stackHeadResults(-1, { posSlice: -1, returnLabels: true }); // labels: ['L0H0', …]
   * ```
   */
  stackHeadResults<Options extends StackHeadResultsOptions = StackHeadResultsOptions>(
    layer?: number,
    options?: Options,
  ): StackOrLabelled<Options> {
    this.assertAlive('stackHeadResults');
    return withLabels(
      stackHeadResults(this, layer, options),
      options?.returnLabels,
    ) as StackOrLabelled<Options>;
  }

  /**
   * TransformerLens `apply_ln_to_stack`: centre each component and divide by the cached scale of
   * the LayerNorm that reads `layer`'s input (`ln_final` for the unembedding); with `recomputeLn`
   * and the unembedding, the final LayerNorm with each component's own statistics instead. The
   * caller disposes the result.
   *
   * @param stack - `[components, batch, (pos,) dModel]`, already position-sliced like `posSlice`.
   * @param layer - undefined, -1 or nLayers = the unembedding; else that block's ln1 (ln2 with `mlpInput`).
   * @param options - `posSlice`, `batchSlice`, `hasBatchDim` (default true), `mlpInput`, `recomputeLn`.
   * @example
   * ```ts
   * const scaled = cache.applyLnToStack(cache.decomposeResid(), -1);
   * ```
   */
  applyLnToStack(stack: tf.Tensor, layer?: number, options: ApplyLnOptions = {}): tf.Tensor {
    this.assertAlive('applyLnToStack');
    return applyLnToStack(this, stack, layer, options);
  }

  /**
   * TransformerLens `logit_attrs`: each component's direct contribution to the logit of `tokens`
   * (minus `incorrectTokens`): centred, divided by the cached `ln_final.hook_scale` and dotted with
   * `W_U[:, token]`; `b_U` is left out. Expects an already position-sliced stack. The caller
   * disposes the result `[components, batch, (pos)]`.
   *
   * @param stack - e.g. `decomposeResid(undefined, { posSlice: -1 })`.
   * @param tokens - one id for every prompt or one per prompt.
   * @param incorrectTokens - as `tokens`; gives logit-difference attributions.
   * @param options - `posSlice` (the one applied to the stack), `batchSlice`, `hasBatchDim`.
   * @example
   * ```ts
   * const attrs = cache.logitAttrs(cache.decomposeResid(undefined, { posSlice: -1 }), 5335, 1757, { posSlice: -1 });
   * ```
   */
  logitAttrs(
    stack: tf.Tensor,
    tokens: number | readonly number[],
    incorrectTokens?: number | readonly number[],
    options: LogitAttrsOptions = {},
  ): tf.Tensor {
    this.assertAlive('logitAttrs');
    return logitAttrs(this, stack, tokens, incorrectTokens, options);
  }

  /**
   * Every activation copied to plain typed arrays (for export to JSON, safetensors or a worker).
   * The arrays are copies: changing them does not change the cache.
   *
   * @throws InvalidArgumentError for an activation whose dtype has no plain-array form (complex64, string).
   * @example
   * ```ts
   * for (const [name, { shape, data }] of await cache.toArrays()) console.log(name, shape, data.length);
   * ```
   */
  async toArrays(): Promise<Map<string, ActivationArray>> {
    this.assertAlive('toArrays');
    const arrays = new Map<string, ActivationArray>();
    for (const [name, tensor] of this.tensors) {
      const dtype = tensor.dtype;
      if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
        throw new InvalidArgumentError(
          `ActivationCache.toArrays: "${name}" has dtype ${dtype}; accepted: float32, int32, bool.`,
        );
      }
      // Some backends (cpu) hand out their own storage: copy, so the export cannot alias the cache.
      const data = ((await tensor.data()) as Float32Array | Int32Array | Uint8Array).slice();
      arrays.set(name, { shape: [...tensor.shape], dtype, data });
    }
    return arrays;
  }

  /**
   * Free every tensor; later lookups throw. Safe to call twice.
   *
   * @example
   * ```ts
   * cache.dispose();
   * ```
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.tensors.values()]);
    this.tensors.clear();
  }

  /**
   * Same as {@link ActivationCache.dispose}, for `using cache = …`.
   *
   * @example
   * ```ts
   * { using cache = captureActivations(registry, undefined, forward).cache; }
   * ```
   */
  [Symbol.dispose](): void {
    this.dispose();
  }

  private resolveName(method: string, name: string, layer?: number, layerType?: string): HookName {
    let resolvedLayer = layer;
    if (resolvedLayer !== undefined && resolvedLayer < 0) resolvedLayer += this.nLayers;
    if (
      resolvedLayer !== undefined &&
      (!Number.isInteger(resolvedLayer) || resolvedLayer < 0 || resolvedLayer >= this.nLayers)
    ) {
      throw new InvalidArgumentError(
        `ActivationCache.${method}: layer ${layer} is out of range for a model with ${this.nLayers} layers; accepted: integers -${this.nLayers}..${this.nLayers - 1}.`,
      );
    }
    return actName(name, resolvedLayer, layerType);
  }

  private assertAlive(what: string): void {
    if (this.disposed)
      throw new InvalidArgumentError(`ActivationCache: cannot ${what} after dispose().`);
  }
}
