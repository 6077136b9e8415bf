import { InvalidArgumentError, ShapeMismatchError, UnknownHookError } from '@patchlens/errors';
import * as tf from '@tensorflow/tfjs-core';
import { closestNames, type HookName, layerOfHook } from './hook-names.js';

/**
 * What a hook function learns about the hook point it runs at (TransformerLens passes the
 * `HookPoint` itself; its `name` and `layer()` are what hooks use).
 *
 * @example
 * ```ts
 * const hook: HookFunction = (activation, { name, layer }) => void console.log(name, layer);
 * ```
 */
export interface HookContext {
  /** Full hook name, e.g. `blocks.0.attn.hook_z`. */
  readonly name: HookName;
  /** Block index for `blocks.{L}.…` hooks, undefined for global hooks. */
  readonly layer: number | undefined;
}

/**
 * A forward hook: receives the activation and returns a replacement (same shape) or nothing
 * (activation unchanged). It runs inside the model's `tf.tidy`, so intermediate tensors it makes
 * are freed; call `tf.keep` on anything it must keep alive. tfjs tensors are immutable: to change
 * part of an activation, build a new tensor (`tf.where`, `tf.concat`, …) and return it.
 *
 * @example
 * ```ts
 * const zeroAblate: HookFunction = (activation) => tf.zerosLike(activation);
 * ```
 */
export type HookFunction = (
  activation: tf.Tensor,
  context: HookContext,
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook may be any function that returns nothing.
) => tf.Tensor | undefined | void;

/**
 * Which hook points a hook attaches to: an exact name, a list of names, a RegExp (tested against
 * each full name) or a predicate.
 *
 * @example
 * ```ts
 * const filters: HookFilter[] = ['blocks.0.hook_resid_pre', ['hook_embed', 'hook_pos_embed'], /attn\.hook_z$/, (name) => name.endsWith('hook_q')];
 * ```
 */
export type HookFilter = string | readonly string[] | RegExp | ((name: HookName) => boolean);

/**
 * A hook for one scope, TransformerLens `fwd_hooks` style: `[filter, hookFunction]`.
 *
 * @example
 * ```ts
 * const spec: HookSpec = [/hook_resid_pre$/, (resid) => tf.mul(resid, 0.5)];
 * ```
 */
export type HookSpec = readonly [HookFilter, HookFunction];

/**
 * Options of {@link HookRegistry.add}.
 *
 * @example
 * ```ts
 * registry.add('hook_embed', hook, { prepend: true, permanent: true });
 * ```
 */
export interface AddHookOptions {
  /** Run before the hooks already at these points (default false: after them). */
  prepend?: boolean;
  /** Survive {@link HookRegistry.reset} unless it is called with `includePermanent` (default false). */
  permanent?: boolean;
}

/**
 * Removes the hook it was returned for; calling it twice (or after `reset`) is harmless.
 *
 * @example
 * ```ts
 * const handle = registry.add('hook_embed', hook);
 * handle.remove();
 * ```
 */
export interface HookHandle {
  remove(): void;
}

interface Entry {
  readonly hook: HookFunction;
  readonly permanent: boolean;
}

/**
 * The hook points of one model: which hooks run at which named activation, in which order.
 *
 * Semantics (TransformerLens's `HookPoint`s): hooks at one point run in the order they were added,
 * each receiving the previous one's output; `prepend` puts a hook first. Scoped hooks
 * ({@link HookRegistry.withHooks}) vanish when their scope ends, also on error; permanent hooks
 * survive {@link HookRegistry.reset} unless it is called with `includePermanent`.
 *
 * @example
 * ```ts
 * const registry = new HookRegistry(['hook_embed', 'blocks.0.hook_resid_pre']);
 * registry.withHooks([['hook_embed', (x) => tf.mul(x, 0)]], () => model.forward(tokens));
 * ```
 */
export class HookRegistry {
  /** Every hook name this registry accepts, in forward order. */
  readonly hookNames: readonly HookName[];
  private readonly valid: ReadonlySet<string>;
  private readonly entries = new Map<string, Entry[]>();

  /** @param hookNames - the model's hook point names (in forward order). */
  constructor(hookNames: readonly HookName[]) {
    this.hookNames = hookNames;
    this.valid = new Set(hookNames);
  }

  /**
   * The hook names a filter selects, in forward order for a RegExp or predicate and in the given
   * order for a list (a name listed twice counts once). An empty list selects nothing.
   *
   * @throws UnknownHookError for an exact name the model lacks (with the closest names), or a RegExp / predicate that selects nothing.
   * @throws InvalidArgumentError for a filter of another type.
   * @example
   * ```ts
   * registry.resolve(/^blocks\.0\.attn\./); // ['blocks.0.attn.hook_q', 'blocks.0.attn.hook_k', …]
   * ```
   */
  resolve(filter: HookFilter): HookName[] {
    if (typeof filter === 'string') return [this.check(filter)];
    if (filter instanceof RegExp) {
      const names = this.hookNames.filter((name) => {
        filter.lastIndex = 0;
        return filter.test(name);
      });
      if (names.length === 0)
        throw new UnknownHookError(String(filter), [], ' (the RegExp matches no hook point)');
      return names;
    }
    if (typeof filter === 'function') {
      const names = this.hookNames.filter((name) => filter(name));
      if (names.length === 0)
        throw new UnknownHookError('<predicate>', [], ' (the predicate selects no hook point)');
      return names;
    }
    if (Array.isArray(filter)) {
      // A name listed twice selects its hook point once (a hook must not run twice per pass).
      return [...new Set(filter.map((name: unknown) => this.check(name)))];
    }
    throw new InvalidArgumentError(
      `HookRegistry: a hook filter must be a name, a list of names, a RegExp or a function, got ${typeof filter}.`,
    );
  }

  /**
   * Attach `hook` to every hook point `filter` selects.
   *
   * @param options.prepend - run first instead of last (default false).
   * @param options.permanent - survive `reset()` (default false).
   * @returns a handle whose `remove()` detaches the hook from every point it was added to.
   * @throws UnknownHookError / InvalidArgumentError as {@link HookRegistry.resolve}, or when `hook` is not a function.
   * @example
   * ```ts
   * const handle = registry.add(/hook_pattern$/, (pattern, { layer }) => void seen.push(layer));
   * model.forward(tokens).dispose();
   * handle.remove();
   * ```
   */
  add(filter: HookFilter, hook: HookFunction, options: AddHookOptions = {}): HookHandle {
    if (typeof hook !== 'function') {
      throw new InvalidArgumentError(
        `HookRegistry.add: hook must be a function, got ${typeof hook}.`,
      );
    }
    const names = this.resolve(filter);
    const entry: Entry = { hook, permanent: options.permanent ?? false };
    for (const name of names) {
      const list = this.entries.get(name) ?? [];
      if (options.prepend) list.unshift(entry);
      else list.push(entry);
      this.entries.set(name, list);
    }
    return {
      remove: () => {
        for (const name of names) {
          const list = this.entries.get(name);
          if (!list) continue;
          const index = list.indexOf(entry);
          if (index >= 0) list.splice(index, 1);
          if (list.length === 0) this.entries.delete(name);
        }
      },
    };
  }

  /**
   * Remove every hook (permanent ones too when `includePermanent`); TransformerLens `reset_hooks`.
   *
   * @param options.includePermanent - also remove permanent hooks (default false).
   * @example
   * ```ts
   * registry.reset();                            // scoped and plain hooks gone, permanent ones stay
   * registry.reset({ includePermanent: true });  // nothing left
   * ```
   */
  reset(options: { includePermanent?: boolean } = {}): void {
    for (const [name, list] of [...this.entries]) {
      const kept = options.includePermanent ? [] : list.filter((entry) => entry.permanent);
      if (kept.length === 0) this.entries.delete(name);
      else this.entries.set(name, kept);
    }
  }

  /**
   * Run `fn` with extra hooks that are removed when it returns or throws (for an async `fn`, when
   * its promise settles); TransformerLens `run_with_hooks` / `hooks()`. The hooks are added after
   * those already present, in the order given.
   *
   * Limitations: while an async `fn` is pending, other forward passes of the same model see these hooks too.
   *
   * @param hooks - `[filter, hook]` pairs; if one of them is invalid, none is added.
   * @param fn - the work to run with the hooks attached (sync or async).
   * @returns what `fn` returns (a promise for an async `fn`).
   * @example
   * ```ts
   * const logits = registry.withHooks([[/hook_z$/, (z) => tf.zerosLike(z)]], () => model.forward(tokens));
   * ```
   */
  withHooks<T>(hooks: readonly HookSpec[], fn: () => T): T {
    const handles: HookHandle[] = [];
    const removeAll = () => {
      for (const handle of handles.reverse()) handle.remove();
    };
    try {
      for (const [filter, hook] of hooks) handles.push(this.add(filter, hook));
    } catch (error) {
      removeAll();
      throw error;
    }
    let result: T;
    try {
      result = fn();
    } catch (error) {
      removeAll();
      throw error;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).finally(removeAll) as T;
    }
    removeAll();
    return result;
  }

  /**
   * True when at least one hook is attached at `name`.
   *
   * @example
   * ```ts
   * registry.hasHooks('hook_embed'); // false until a hook is added there
   * ```
   */
  hasHooks(name: HookName): boolean {
    return this.entries.has(name);
  }

  /**
   * Number of hooks attached at `name`.
   *
   * @example
   * ```ts
   * registry.count('blocks.0.hook_resid_pre'); // 0
   * ```
   */
  count(name: HookName): number {
    return this.entries.get(name)?.length ?? 0;
  }

  /**
   * Pass an activation through the hooks at `name` in order; the model calls this at each hook
   * point, inside its `tf.tidy`. Without hooks it returns `activation` itself.
   *
   * @throws ShapeMismatchError when a hook returns a tensor of another shape.
   * @throws InvalidArgumentError when a hook returns something that is not a tensor.
   * @example
   * ```ts
   * const resid = registry.run('blocks.0.hook_resid_pre', tf.add(embed, posEmbed));
   * ```
   */
  run(name: HookName, activation: tf.Tensor): tf.Tensor {
    const list = this.entries.get(name);
    if (!list) return activation;
    const context: HookContext = { name, layer: layerOfHook(name) };
    let current = activation;
    // A copy: a hook may add or remove hooks; that takes effect on the next pass.
    for (const entry of [...list]) {
      const replaced = entry.hook(current, context);
      if (replaced === undefined || replaced === null) continue;
      if (!(replaced instanceof tf.Tensor)) {
        throw new InvalidArgumentError(
          `Hook at "${name}" returned ${typeof replaced}; a hook returns a tf.Tensor or nothing.`,
        );
      }
      if (!tf.util.arraysEqual(replaced.shape, current.shape)) {
        throw new ShapeMismatchError(
          `Hook at "${name}" returned shape [${replaced.shape}], but the activation has shape [${current.shape}].`,
          { expected: current.shape, actual: replaced.shape },
        );
      }
      current = replaced;
    }
    return current;
  }

  private check(name: unknown): HookName {
    if (typeof name !== 'string') {
      throw new InvalidArgumentError(
        `HookRegistry: a hook name must be a string, got ${typeof name} in a list of names.`,
      );
    }
    if (this.valid.has(name)) return name as HookName;
    throw new UnknownHookError(name, closestNames(name, this.hookNames));
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
