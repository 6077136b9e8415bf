import type { IndexAxisName } from './index-axes.js';
import {
  type CoordinatePatchSetter,
  layerHeadDestSrcPosPatternPatchSetter,
  layerHeadPatternPatchSetter,
  layerHeadPosPatternPatchSetter,
  layerHeadVectorPatchSetter,
  layerPosHeadVectorPatchSetter,
  layerPosPatchSetter,
} from './patch-setters.js';

/**
 * One specialised sweep (TransformerLens `get_act_patch_*`) as data: which activation it patches,
 * which coordinates one patch replaces (the setter) and the index axes of its result.
 *
 * The single source of truth for the exact sweeps, the CLI registry, the `*_every` stacks, the
 * parity cases and attribution patching.
 *
 * @example
 * ```ts
 * const sweep: SweepSpec = SWEEPS.find((s) => s.name === 'resid_pre')!;
 * sweep.axes; // ['layer', 'pos']
 * ```
 */
export interface SweepSpec {
  /** CLI name (TransformerLens's function name without `get_act_patch_`), e.g. `attn_head_out_by_pos`. */
  readonly name: string;
  /** The exported function's name, e.g. `getActPatchAttnHeadOutByPos` (shown in messages). */
  readonly functionName: string;
  /** Short activation kind (`actName`): `resid_pre`, `z`, `pattern`, ... */
  readonly activationName: string;
  /** Which coordinates one patch replaces. */
  readonly setter: CoordinatePatchSetter;
  /** Index axes of the result, layer first, in TransformerLens's order. */
  readonly axes: readonly IndexAxisName[];
}

function sweep<const Name extends string>(
  name: Name,
  functionName: string,
  activationName: string,
  setter: CoordinatePatchSetter,
  axes: readonly IndexAxisName[],
) {
  return Object.freeze({
    name,
    functionName,
    activationName,
    setter,
    axes: Object.freeze([...axes]),
  }) satisfies SweepSpec;
}

/**
 * Every specialised sweep, in TransformerLens's order.
 *
 * @example
 * ```ts
 * for (const { name, activationName, axes } of SWEEPS) console.log(name, activationName, axes.join('×'));
 * ```
 */
export const SWEEPS = Object.freeze([
  sweep('resid_pre', 'getActPatchResidPre', 'resid_pre', layerPosPatchSetter, ['layer', 'pos']),
  sweep('resid_mid', 'getActPatchResidMid', 'resid_mid', layerPosPatchSetter, ['layer', 'pos']),
  sweep('attn_out', 'getActPatchAttnOut', 'attn_out', layerPosPatchSetter, ['layer', 'pos']),
  sweep('mlp_out', 'getActPatchMlpOut', 'mlp_out', layerPosPatchSetter, ['layer', 'pos']),
  sweep('attn_head_out_by_pos', 'getActPatchAttnHeadOutByPos', 'z', layerPosHeadVectorPatchSetter, [
    'layer',
    'pos',
    'head',
  ]),
  sweep('attn_head_q_by_pos', 'getActPatchAttnHeadQByPos', 'q', layerPosHeadVectorPatchSetter, [
    'layer',
    'pos',
    'head',
  ]),
  sweep('attn_head_k_by_pos', 'getActPatchAttnHeadKByPos', 'k', layerPosHeadVectorPatchSetter, [
    'layer',
    'pos',
    'head',
  ]),
  sweep('attn_head_v_by_pos', 'getActPatchAttnHeadVByPos', 'v', layerPosHeadVectorPatchSetter, [
    'layer',
    'pos',
    'head',
  ]),
  sweep(
    'attn_head_pattern_by_pos',
    'getActPatchAttnHeadPatternByPos',
    'pattern',
    layerHeadPosPatternPatchSetter,
    ['layer', 'head_index', 'dest_pos'],
  ),
  sweep(
    'attn_head_pattern_dest_src_pos',
    'getActPatchAttnHeadPatternDestSrcPos',
    'pattern',
    layerHeadDestSrcPosPatternPatchSetter,
    ['layer', 'head_index', 'dest_pos', 'src_pos'],
  ),
  sweep('attn_head_out_all_pos', 'getActPatchAttnHeadOutAllPos', 'z', layerHeadVectorPatchSetter, [
    'layer',
    'head',
  ]),
  sweep('attn_head_q_all_pos', 'getActPatchAttnHeadQAllPos', 'q', layerHeadVectorPatchSetter, [
    'layer',
    'head',
  ]),
  sweep('attn_head_k_all_pos', 'getActPatchAttnHeadKAllPos', 'k', layerHeadVectorPatchSetter, [
    'layer',
    'head',
  ]),
  sweep('attn_head_v_all_pos', 'getActPatchAttnHeadVAllPos', 'v', layerHeadVectorPatchSetter, [
    'layer',
    'head',
  ]),
  sweep(
    'attn_head_pattern_all_pos',
    'getActPatchAttnHeadPatternAllPos',
    'pattern',
    layerHeadPatternPatchSetter,
    ['layer', 'head_index'],
  ),
] as const);

/**
 * The CLI name of a specialised sweep (and of an attribution kind), e.g. `resid_pre`.
 *
 * @example
 * ```ts
 * const kind: SweepName = 'attn_head_out_all_pos';
 * ```
 */
export type SweepName = (typeof SWEEPS)[number]['name'];

/**
 * Every specialised sweep name, in TransformerLens's order.
 *
 * @example
 * ```ts
 * SWEEP_NAMES.includes('resid_mid'); // true
 * ```
 */
export const SWEEP_NAMES: readonly SweepName[] = Object.freeze(SWEEPS.map((spec) => spec.name));

/**
 * The sweep of a name (internal: names are checked where they come in).
 */
export function sweepSpec(name: SweepName): SweepSpec {
  return SWEEPS.find((spec) => spec.name === name)!;
}

/**
 * Several sweeps stacked on a leading `activation` axis (TransformerLens's `get_act_patch_*_every`).
 *
 * @example
 * ```ts
 * STACKED_SWEEPS.find((s) => s.name === 'block_every')!.parts.map((p) => p.label); // ['resid_pre', 'attn_out', 'mlp_out']
 * ```
 */
export interface StackedSweepSpec {
  /** CLI name, e.g. `block_every`. */
  readonly name: string;
  /** The exported function's name (shown in messages). */
  readonly functionName: string;
  /** The common axes every part lands on (`head_index` -> `head`, `dest_pos` -> `pos`). */
  readonly axes: readonly ('layer' | 'pos' | 'head')[];
  /** The stacked sweeps with their labels on the `activation` axis, in order. */
  readonly parts: readonly { readonly label: string; readonly sweep: SweepName }[];
}

function stacked<const Name extends string>(
  name: Name,
  functionName: string,
  axes: readonly ('layer' | 'pos' | 'head')[],
  parts: readonly (readonly [string, SweepName])[],
) {
  return Object.freeze({
    name,
    functionName,
    axes: Object.freeze([...axes]),
    parts: Object.freeze(parts.map(([label, sweep]) => Object.freeze({ label, sweep }))),
  }) satisfies StackedSweepSpec;
}

/**
 * The `*_every` sweeps (k/v parts are zero-padded to nHeads on the head axis, as in TransformerLens).
 *
 * @example
 * ```ts
 * STACKED_SWEEPS.map((s) => s.name); // ['attn_head_all_pos_every', 'attn_head_by_pos_every', 'block_every']
 * ```
 */
export const STACKED_SWEEPS = Object.freeze([
  stacked(
    'attn_head_all_pos_every',
    'getActPatchAttnHeadAllPosEvery',
    ['layer', 'head'],
    [
      ['output', 'attn_head_out_all_pos'],
      ['query', 'attn_head_q_all_pos'],
      ['key', 'attn_head_k_all_pos'],
      ['value', 'attn_head_v_all_pos'],
      ['pattern', 'attn_head_pattern_all_pos'],
    ],
  ),
  stacked(
    'attn_head_by_pos_every',
    'getActPatchAttnHeadByPosEvery',
    ['layer', 'pos', 'head'],
    [
      ['output', 'attn_head_out_by_pos'],
      ['query', 'attn_head_q_by_pos'],
      ['key', 'attn_head_k_by_pos'],
      ['value', 'attn_head_v_by_pos'],
      ['pattern', 'attn_head_pattern_by_pos'],
    ],
  ),
  stacked(
    'block_every',
    'getActPatchBlockEvery',
    ['layer', 'pos'],
    [
      ['resid_pre', 'resid_pre'],
      ['attn_out', 'attn_out'],
      ['mlp_out', 'mlp_out'],
    ],
  ),
] as const);

/**
 * The CLI name of a stacked sweep, e.g. `block_every`.
 *
 * @example
 * ```ts
 * const name: StackedSweepName = 'attn_head_by_pos_every';
 * ```
 */
export type StackedSweepName = (typeof STACKED_SWEEPS)[number]['name'];

/** The stacked sweep of a name (internal). */
export function stackedSweepSpec(name: StackedSweepName): StackedSweepSpec {
  return STACKED_SWEEPS.find((spec) => spec.name === name)!;
}
