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

/** One activation exported to plain memory. */
export interface ActivationArray {
  readonly shape: number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/**
 * Activations captured during a forward pass, keyed by full hook name.
 *
 * Owns its tensors: `dispose()` (or `using cache = …`) frees them all. Lookups accept full names,
 * `actName` short forms and `(kind, layer)` pairs with negative layers counting from the end.
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
  private disposed = false;

  /**
   * @param tensors - activations by full hook name; the cache takes ownership.
   * @param options.nLayers - the model's block count (default: one more than the largest layer among the keys).
   */
  constructor(tensors: ReadonlyMap<string, tf.Tensor>, options: { nLayers?: number } = {}) {
    this.tensors = new Map(tensors);
    const largest = Math.max(
      -1,
      ...[...this.tensors.keys()].map((name) => layerOfHook(name) ?? -1),
    );
    this.nLayers = options.nLayers ?? largest + 1;
  }

  /** Number of cached activations. */
  get size(): number {
    return this.tensors.size;
  }

  /** Full hook names of the cached activations, in capture order. */
  keys(): string[] {
    return [...this.tensors.keys()];
  }

  /** True when `name` (full name or short form resolved like {@link ActivationCache.get}) is cached. */
  has(name: string, layer?: number, layerType?: string): boolean {
    try {
      return this.tensors.has(this.resolveName(name, layer, layerType));
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
   * @throws UnknownHookError when the activation is not in the cache, listing the closest cached names.
   */
  get(name: string, layer?: number, layerType?: string): tf.Tensor {
    this.assertAlive('get');
    const full = this.resolveName(name, layer, layerType);
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

  /** `[name, activation]` pairs in capture order. */
  *[Symbol.iterator](): IterableIterator<[string, tf.Tensor]> {
    this.assertAlive('iterate');
    yield* this.tensors.entries();
  }

  /**
   * Drop the batch axis of every activation (batch size 1 only), in place; returns this cache.
   *
   * @throws ShapeMismatchError when an activation's batch size is not 1 (the cache is left unchanged).
   */
  removeBatchDim(): this {
    this.assertAlive('removeBatchDim');
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
    return this;
  }

  /**
   * A new cache with batch rows `[start, end)` of every activation (end defaults to start + 1).
   * The new cache owns its own tensors.
   */
  sliceBatch(start: number, end = start + 1): ActivationCache {
    this.assertAlive('sliceBatch');
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

  /** Every activation copied to plain typed arrays (for export to JSON, safetensors or a worker). */
  async toArrays(): Promise<Map<string, ActivationArray>> {
    this.assertAlive('toArrays');
    const arrays = new Map<string, ActivationArray>();
    for (const [name, tensor] of this.tensors) {
      const data = (await tensor.data()) as Float32Array | Int32Array | Uint8Array;
      arrays.set(name, {
        shape: tensor.shape,
        dtype: tensor.dtype as ActivationArray['dtype'],
        data,
      });
    }
    return arrays;
  }

  /** Free every tensor; later lookups throw. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.tensors.values()]);
    this.tensors.clear();
  }

  /** Same as {@link ActivationCache.dispose}, for `using cache = …`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  private resolveName(name: string, layer?: number, layerType?: string): HookName {
    let resolvedLayer = layer;
    if (resolvedLayer !== undefined && resolvedLayer < 0) resolvedLayer += this.nLayers;
    if (resolvedLayer !== undefined && (resolvedLayer < 0 || resolvedLayer >= this.nLayers)) {
      throw new InvalidArgumentError(
        `ActivationCache.get: layer ${layer} is out of range for a model with ${this.nLayers} layers; accepted: -${this.nLayers}..${this.nLayers - 1}.`,
      );
    }
    return actName(name, resolvedLayer, layerType);
  }

  private assertAlive(what: string): void {
    if (this.disposed)
      throw new InvalidArgumentError(`ActivationCache: cannot ${what} after dispose().`);
  }
}
