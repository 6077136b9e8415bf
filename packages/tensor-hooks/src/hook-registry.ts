import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError, UnknownHookError } from './errors.js';
import { closestNames, type HookName, layerOfHook } from './hook-names.js';

/** What a hook function learns about the hook point it runs at. */
export interface HookContext {
  /** Full hook name, e.g. `blocks.0.attn.hook_z`. */
  readonly name: HookName;
  /** Block index for `blocks.{L}.…` hooks, undefined for global hooks. */
  readonly layer: number | undefined;
}

/**
 * A forward hook: receives the activation and returns a replacement (same shape) or nothing
 * (activation unchanged). It runs inside the model's `tf.tidy`, so intermediate tensors it makes
 * are freed; call `tf.keep` on anything it must keep alive.
 */
export type HookFunction = (
  activation: tf.Tensor,
  context: HookContext,
) => tf.Tensor | undefined | void;

/** Which hook points a hook attaches to: an exact name, a list of names, a RegExp or a predicate. */
export type HookFilter = string | readonly string[] | RegExp | ((name: HookName) => boolean);

/** A hook for one scope, TransformerLens `fwd_hooks` style: `[filter, hookFunction]`. */
export type HookSpec = readonly [HookFilter, HookFunction];

/** Options of {@link HookRegistry.add}. */
export interface AddHookOptions {
  /** Run before the hooks already at these points (default false: after them). */
  prepend?: boolean;
  /** Survive {@link HookRegistry.reset} unless it is called with `includePermanent` (default false). */
  permanent?: boolean;
}

/** Removes the hook it was returned for; calling it twice is harmless. */
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
   * The hook names a filter selects.
   *
   * @throws UnknownHookError for an exact name the model lacks (with the closest names), or a RegExp / predicate that selects nothing.
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
    if (Array.isArray(filter)) return filter.map((name: string) => this.check(name));
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
   * Remove every hook (permanent ones too when `includePermanent`).
   *
   * @param options.includePermanent - also remove permanent hooks (default false).
   */
  reset(options: { includePermanent?: boolean } = {}): void {
    for (const [name, list] of [...this.entries]) {
      const kept = options.includePermanent ? [] : list.filter((entry) => entry.permanent);
      if (kept.length === 0) this.entries.delete(name);
      else this.entries.set(name, kept);
    }
  }

  /**
   * Run `fn` with extra hooks that are removed when it returns or throws (for an async `fn`, when its promise settles).
   *
   * Limitations: while an async `fn` is pending, other forward passes of the same model see these hooks too.
   *
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
    if (result instanceof Promise) {
      return result.finally(removeAll) as T;
    }
    removeAll();
    return result;
  }

  /** True when at least one hook is attached at `name`. */
  hasHooks(name: HookName): boolean {
    return this.entries.has(name);
  }

  /** Number of hooks attached at `name`. */
  count(name: HookName): number {
    return this.entries.get(name)?.length ?? 0;
  }

  /**
   * Pass an activation through the hooks at `name` in order; the model calls this at each hook point.
   *
   * @throws ShapeMismatchError when a hook returns a tensor of another shape.
   */
  run(name: HookName, activation: tf.Tensor): tf.Tensor {
    const list = this.entries.get(name);
    if (!list) return activation;
    const context: HookContext = { name, layer: layerOfHook(name) };
    let current = activation;
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

  private check(name: string): HookName {
    if (this.valid.has(name)) return name as HookName;
    throw new UnknownHookError(name, closestNames(name, this.hookNames));
  }
}
