import { closestNames, InvalidArgumentError } from '@patchlens/tensor-hooks';
import { type ActivationPatchFunction, SWEEP_FUNCTIONS } from './activation-patch-functions.js';
import { STACKED_SWEEP_FUNCTIONS, type StackedPatchFunction } from './stacked-patch-functions.js';
import type { StackedSweepName, SweepName } from './sweeps.js';

/**
 * Every sweep by its CLI name (TransformerLens's `get_act_patch_*` without the prefix): the
 * {@link SWEEPS} table's exact sweeps, then the `*_every` stacks.
 *
 * @example
 * ```ts
 * const result = await PATCHING_FUNCTIONS['attn_head_out_by_pos'](model, corruptedTokens, cleanCache, metric);
 * ```
 */
export const PATCHING_FUNCTIONS: Readonly<
  Record<SweepName, ActivationPatchFunction> & Record<StackedSweepName, StackedPatchFunction>
> = Object.freeze({ ...SWEEP_FUNCTIONS, ...STACKED_SWEEP_FUNCTIONS });

/**
 * A CLI name of a sweep, e.g. `resid_pre` or `attn_head_out_by_pos`.
 *
 * @example
 * ```ts
 * const name: PatchingFunctionName = 'block_every';
 * ```
 */
export type PatchingFunctionName = keyof typeof PATCHING_FUNCTIONS;

/**
 * Every CLI sweep name, in TransformerLens's order.
 *
 * @example
 * ```ts
 * console.error(`valid names: ${PATCHING_FUNCTION_NAMES.join(', ')}`);
 * ```
 */
export const PATCHING_FUNCTION_NAMES: readonly PatchingFunctionName[] = Object.freeze(
  Object.keys(PATCHING_FUNCTIONS) as PatchingFunctionName[],
);

/**
 * Turns a `--patch` value into sweep names: `all` (every sweep, the `*_every` stacks included, so a
 * results file can be compared entry by entry with TransformerLens) or a comma-separated list (also
 * given as an array), in the order given, without duplicates.
 *
 * @param spec - `'all'`, `'resid_pre,attn_head_out_by_pos'` or `['resid_pre', …]`.
 * @throws InvalidArgumentError naming the unknown name, the closest valid names and the full list.
 * @example
 * ```ts
 * resolvePatchingNames('resid_pre, block_every'); // ['resid_pre', 'block_every']
 * resolvePatchingNames('all').length;              // 18
 * ```
 */
export function resolvePatchingNames(spec: string | readonly string[]): PatchingFunctionName[] {
  const parts = (typeof spec === 'string' ? spec.split(',') : [...spec])
    .map((part) => String(part).trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) {
    throw new InvalidArgumentError(
      `resolvePatchingNames: no sweep named; give "all" or a comma-separated list of: ${PATCHING_FUNCTION_NAMES.join(', ')}.`,
    );
  }
  const names: PatchingFunctionName[] = [];
  for (const part of parts) {
    const expanded = part === 'all' ? PATCHING_FUNCTION_NAMES : [part as PatchingFunctionName];
    for (const name of expanded) {
      if (!Object.hasOwn(PATCHING_FUNCTIONS, name)) {
        const nearest = closestNames(name, PATCHING_FUNCTION_NAMES);
        throw new InvalidArgumentError(
          `resolvePatchingNames: unknown sweep "${name}"; did you mean ${nearest.map((n) => `"${n}"`).join(', ')}? Valid names: all, ${PATCHING_FUNCTION_NAMES.join(', ')}.`,
        );
      }
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}
