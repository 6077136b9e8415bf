import {
  type ActivationCacheLike,
  actName,
  closestNames,
  type HookName,
  InvalidArgumentError,
  layerOfHook,
  ShapeMismatchError,
  UnknownHookError,
} from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

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
    return new ActivationCache(sliced, { nLayers: this.nLayers });
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
