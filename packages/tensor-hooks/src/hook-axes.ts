import { InvalidArgumentError } from '@patchlens/errors';
import type { BlockHookSuffix, GlobalHookName } from './hook-names.js';

/**
 * The name of one axis of a hook point's activation.
 *
 * @example
 * ```ts
 * const axis: HookAxisName = 'query_pos';
 * ```
 */
export type HookAxisName =
  | 'batch'
  | 'pos'
  | 'query_pos'
  | 'key_pos'
  | 'head'
  | 'key_value_head'
  | 'd_model'
  | 'd_head'
  | 'd_mlp'
  | 'd_vocab'
  | 'one';

/**
 * The axes of every hook point's activation, in TransformerLens's layout: the one table the
 * models, the patching engines and the tests read (never a copy). `pos` is the position axis of a
 * per-position activation; `key_value_head` has the model's key/value head count (grouped-query
 * attention); attention scores and patterns have a query axis (`query_pos`, the
 * destination) and a key axis (`key_pos`, the source).
 *
 * @example
 * ```ts
 * HOOK_AXES['attn.hook_pattern']; // ['batch', 'head', 'query_pos', 'key_pos']
 * ```
 */
export const HOOK_AXES: Readonly<
  Record<BlockHookSuffix | GlobalHookName, readonly HookAxisName[]>
> = {
  hook_embed: ['batch', 'pos', 'd_model'],
  hook_pos_embed: ['batch', 'pos', 'd_model'],
  'ln_final.hook_scale': ['batch', 'pos', 'one'],
  'ln_final.hook_normalized': ['batch', 'pos', 'd_model'],
  'unembed.hook_in': ['batch', 'pos', 'd_model'],
  'unembed.hook_out': ['batch', 'pos', 'd_vocab'],
  hook_resid_pre: ['batch', 'pos', 'd_model'],
  hook_q_input: ['batch', 'pos', 'head', 'd_model'],
  hook_k_input: ['batch', 'pos', 'key_value_head', 'd_model'],
  hook_v_input: ['batch', 'pos', 'key_value_head', 'd_model'],
  hook_resid_mid: ['batch', 'pos', 'd_model'],
  hook_resid_post: ['batch', 'pos', 'd_model'],
  hook_attn_out: ['batch', 'pos', 'd_model'],
  hook_mlp_out: ['batch', 'pos', 'd_model'],
  'ln1.hook_scale': ['batch', 'pos', 'one'],
  'ln1.hook_normalized': ['batch', 'pos', 'd_model'],
  'ln2.hook_scale': ['batch', 'pos', 'one'],
  'ln2.hook_normalized': ['batch', 'pos', 'd_model'],
  'attn.hook_q': ['batch', 'pos', 'head', 'd_head'],
  'attn.hook_k': ['batch', 'pos', 'key_value_head', 'd_head'],
  'attn.hook_v': ['batch', 'pos', 'key_value_head', 'd_head'],
  'attn.hook_z': ['batch', 'pos', 'head', 'd_head'],
  'attn.hook_attn_scores': ['batch', 'head', 'query_pos', 'key_pos'],
  'attn.hook_pattern': ['batch', 'head', 'query_pos', 'key_pos'],
  'attn.hook_result': ['batch', 'pos', 'head', 'd_model'],
  'attn.hook_rot_q': ['batch', 'pos', 'head', 'd_head'],
  'attn.hook_rot_k': ['batch', 'pos', 'key_value_head', 'd_head'],
  'mlp.hook_pre': ['batch', 'pos', 'd_mlp'],
  'mlp.hook_pre_linear': ['batch', 'pos', 'd_mlp'],
  'mlp.hook_post': ['batch', 'pos', 'd_mlp'],
};

/**
 * The axes of a hook point's activation (`blocks.3.attn.hook_pattern` -> `['batch', 'head',
 * 'query_pos', 'key_pos']`), looked up in {@link HOOK_AXES}.
 *
 * @throws InvalidArgumentError for a name that is not a known hook point.
 * @example
 * ```ts
 * hookAxes('blocks.0.hook_resid_pre'); // ['batch', 'pos', 'd_model']
 * ```
 */
export function hookAxes(hookName: string): readonly HookAxisName[] {
  const suffix = hookName.replace(/^blocks\.\d+\./, '') as BlockHookSuffix | GlobalHookName;
  const axes = Object.hasOwn(HOOK_AXES, suffix) ? HOOK_AXES[suffix] : undefined;
  if (axes === undefined) {
    throw new InvalidArgumentError(
      `hookAxes: "${hookName}" is not a hook point; accepted: blocks.{L}.{${Object.keys(HOOK_AXES).join('|')}} or a global hook name.`,
    );
  }
  return axes;
}

/**
 * The position axis of a hook point's activation along which a forward pass computes positions:
 * `pos`, or `query_pos` for attention scores/patterns.
 *
 * @example
 * ```ts
 * queryPositionAxis('blocks.0.attn.hook_pattern'); // 2
 * ```
 */
export function queryPositionAxis(hookName: string): number {
  const axes = hookAxes(hookName);
  const axis = axes.indexOf('query_pos');
  return axis >= 0 ? axis : axes.indexOf('pos');
}

/**
 * Every position axis of a hook point's activation (`pos`, or `query_pos` and `key_pos`).
 *
 * @example
 * ```ts
 * positionAxes('blocks.0.attn.hook_pattern'); // [2, 3]
 * ```
 */
export function positionAxes(hookName: string): number[] {
  const axes = hookAxes(hookName);
  return axes.flatMap((axis, index) =>
    axis === 'pos' || axis === 'query_pos' || axis === 'key_pos' ? [index] : [],
  );
}
