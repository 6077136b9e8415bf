import { InvalidArgumentError, UnknownHookError } from '@patchlens/errors';

/**
 * Hook names that belong to one transformer block, without the `blocks.{L}.` prefix.
 *
 * @example
 * ```ts
 * const suffix: BlockHookSuffix = 'attn.hook_z';
 * ```
 */
export type BlockHookSuffix =
  | 'hook_resid_pre'
  | 'hook_q_input'
  | 'hook_k_input'
  | 'hook_v_input'
  | 'hook_resid_mid'
  | 'hook_resid_post'
  | 'hook_attn_out'
  | 'hook_mlp_out'
  | 'ln1.hook_scale'
  | 'ln1.hook_normalized'
  | 'ln2.hook_scale'
  | 'ln2.hook_normalized'
  | 'attn.hook_q'
  | 'attn.hook_k'
  | 'attn.hook_v'
  | 'attn.hook_z'
  | 'attn.hook_attn_scores'
  | 'attn.hook_pattern'
  | 'attn.hook_result'
  | 'attn.hook_rot_q'
  | 'attn.hook_rot_k'
  | 'mlp.hook_pre'
  | 'mlp.hook_pre_linear'
  | 'mlp.hook_post';

/**
 * A hook point inside block `L`, e.g. `blocks.3.attn.hook_z`.
 *
 * @example
 * ```ts
 * const name: BlockHookName = 'blocks.3.attn.hook_z';
 * ```
 */
export type BlockHookName = `blocks.${number}.${BlockHookSuffix}`;

/**
 * A hook point outside the blocks. `unembed.hook_in` is the unembedding's input (the final
 * LayerNorm's output, `[batch, pos, dModel]`) and `unembed.hook_out` its output, the logits
 * (`[batch, pos, dVocab]`, or the selected shape with selective unembedding), as in
 * TransformerLens 3.
 *
 * @example
 * ```ts
 * const name: GlobalHookName = 'ln_final.hook_normalized';
 * ```
 */
export type GlobalHookName =
  | 'hook_embed'
  | 'hook_pos_embed'
  | 'ln_final.hook_scale'
  | 'ln_final.hook_normalized'
  | 'unembed.hook_in'
  | 'unembed.hook_out';

/**
 * Any hook point name of a GPT-2 block model, spelled exactly as TransformerLens spells it.
 *
 * @example
 * ```ts
 * const names: HookName[] = ['hook_embed', 'blocks.0.hook_resid_pre', 'ln_final.hook_scale'];
 * ```
 */
export type HookName = GlobalHookName | BlockHookName;

/**
 * The GPT-2 block hook suffixes in the order a forward pass reaches them (`attn.hook_result` and
 * the split query/key/value inputs included). Rotary (`attn.hook_rot_q`/`hook_rot_k`) and
 * gated-MLP (`mlp.hook_pre_linear`) hook points exist only in models that have them
 * (`@patchlens/decoder` lists its own).
 *
 * @example
 * ```ts
 * BLOCK_HOOK_SUFFIXES[0]; // 'hook_resid_pre'
 * ```
 */
export const BLOCK_HOOK_SUFFIXES: readonly BlockHookSuffix[] = [
  'hook_resid_pre',
  'hook_q_input',
  'hook_k_input',
  'hook_v_input',
  'ln1.hook_scale',
  'ln1.hook_normalized',
  'attn.hook_q',
  'attn.hook_k',
  'attn.hook_v',
  'attn.hook_attn_scores',
  'attn.hook_pattern',
  'attn.hook_z',
  'attn.hook_result',
  'hook_attn_out',
  'hook_resid_mid',
  'ln2.hook_scale',
  'ln2.hook_normalized',
  'mlp.hook_pre',
  'mlp.hook_post',
  'hook_mlp_out',
  'hook_resid_post',
];

const SPLIT_INPUT_SUFFIXES: ReadonlySet<BlockHookSuffix> = new Set([
  'hook_q_input',
  'hook_k_input',
  'hook_v_input',
]);

/**
 * Every hook name of a GPT-2 block model with `nLayers` blocks, in forward order.
 *
 * @param nLayers - number of transformer blocks.
 * @param options.useAttnResult - include `attn.hook_result` (per-head outputs; default false, as in TransformerLens).
 * @param options.useSplitQkvInput - include `hook_q_input` / `hook_k_input` / `hook_v_input`
 *   (per-head copies of the residual stream; default false, as in TransformerLens).
 * @throws InvalidArgumentError when nLayers is not an integer >= 0.
 * @example
 * ```ts
 * listHookNames(2).length; // 2 + 17 * 2 + 4 = 40
 * ```
 */
export function listHookNames(
  nLayers: number,
  options: { useAttnResult?: boolean; useSplitQkvInput?: boolean } = {},
): HookName[] {
  if (!Number.isInteger(nLayers) || nLayers < 0) {
    throw new InvalidArgumentError(
      `listHookNames: nLayers must be an integer >= 0, got ${String(nLayers)}.`,
    );
  }
  const names: HookName[] = ['hook_embed', 'hook_pos_embed'];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const suffix of BLOCK_HOOK_SUFFIXES) {
      if (suffix === 'attn.hook_result' && !options.useAttnResult) continue;
      if (SPLIT_INPUT_SUFFIXES.has(suffix) && !options.useSplitQkvInput) continue;
      names.push(`blocks.${layer}.${suffix}`);
    }
  }
  names.push(
    'ln_final.hook_scale',
    'ln_final.hook_normalized',
    'unembed.hook_in',
    'unembed.hook_out',
  );
  return names;
}

/**
 * The layer a hook name belongs to (`blocks.{L}.…`), or undefined for global hooks.
 *
 * @example
 * ```ts
 * layerOfHook('blocks.3.attn.hook_z'); // 3
 * layerOfHook('hook_embed');           // undefined
 * ```
 */
export function layerOfHook(name: string): number | undefined {
  const match = /^blocks\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Short kinds that are other spellings of a kind (TransformerLens's `act_name_alias`, GPT-2 subset). */
const KIND_ALIASES: ReadonlyMap<string, string> = new Map([
  ['attn', 'pattern'],
  ['attn_logits', 'attn_scores'],
  ['key', 'k'],
  ['query', 'q'],
  ['value', 'v'],
  ['mlp_pre', 'pre'],
  ['mlp_post', 'post'],
]);
/** Layer-type spellings and the sub-module they name ('' = the block itself). */
const LAYER_TYPE_ALIASES: ReadonlyMap<string, string> = new Map([
  ['', ''],
  ['b', ''],
  ['block', ''],
  ['blocks', ''],
  ['a', 'attn'],
  ['attn', 'attn'],
  ['attention', 'attn'],
  ['m', 'mlp'],
  ['mlp', 'mlp'],
  ['ln1', 'ln1'],
  ['ln2', 'ln2'],
]);
const ATTENTION_KINDS = new Set(['q', 'k', 'v', 'z', 'result', 'pattern', 'attn_scores']);
const MLP_KINDS = new Set(['pre', 'post']);
const BLOCK_KINDS = new Set(['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out']);
const NORM_KINDS = new Set(['scale', 'normalized']);
const GLOBAL_KINDS = new Set(['embed', 'pos_embed']);
/** TransformerLens's compact form: letters, then the layer, then an optional layer type (`k6`, `scale4ln1`). */
const COMPACT_FORM = /^([a-z]+)(\d+)([a-z]?.*)$/;

/**
 * Every short kind `actName` accepts (aliases included).
 *
 * @example
 * ```ts
 * ACT_NAME_KINDS.includes('resid_pre'); // true
 * ACT_NAME_KINDS.includes('attn_logits'); // true (alias of attn_scores)
 * ```
 */
export const ACT_NAME_KINDS: readonly string[] = [
  ...BLOCK_KINDS,
  ...ATTENTION_KINDS,
  ...MLP_KINDS,
  ...NORM_KINDS,
  ...GLOBAL_KINDS,
  ...KIND_ALIASES.keys(),
];

/**
 * Full hook name from a short one, like TransformerLens's `utils.get_act_name`.
 *
 * Accepts the kinds `resid_pre|resid_mid|resid_post|attn_out|mlp_out` (-> `blocks.L.hook_*`),
 * `q|k|v|z|result|pattern|attn_scores` (-> `blocks.L.attn.hook_*`; aliases `attn` = pattern,
 * `attn_logits` = attn_scores, `query`/`key`/`value` = q/k/v), `pre|post` (-> `blocks.L.mlp.hook_*`;
 * aliases `mlp_pre`, `mlp_post`), `embed`, `pos_embed` (-> `hook_*`, no layer), `scale|normalized`
 * (with a layer and layerType `ln1`/`ln2` -> `blocks.L.lnN.hook_*`; with neither -> `ln_final.hook_*`),
 * and compact forms `<kind><layer><layerType>` matching `([a-z]+)(\d+)([a-z]?.*)` such as `"k6"` or
 * `"scale4ln1"`. Full names (containing a dot or starting with `hook_`) pass through unchanged when
 * no layer and no layerType are given; they are not checked here (the registry checks them).
 *
 * Departures from TransformerLens, all of which make TL return a name no GPT-2 model has: an unknown
 * kind, a layer on `embed`/`pos_embed`, a layerType that contradicts the kind (`('k', 0, 'mlp')`,
 * `('resid_pre', 0, 'attn')`), `scale`/`normalized` with a layer but no `ln1`/`ln2`, and a layer passed
 * next to a compact form (TL silently lets the compact form win) are errors here.
 *
 * @param kind - short kind, compact form or full name.
 * @param layer - block index (an integer >= 0); required for block-level kinds. Negative layers are
 *   resolved by `ActivationCache.get`, which knows the model's depth; not here.
 * @param layerType - `ln1`, `ln2`, `attn`, `mlp` (aliases `a`, `attention`, `m`; `b`, `block`,
 *   `blocks` = the block itself); needed only for `scale`/`normalized`.
 * @throws UnknownHookError for a kind or combination that names no hook point, listing the nearest valid names.
 * @throws InvalidArgumentError for a layer that is not an integer >= 0, or a layer given twice.
 * @example
 * ```ts
 * actName('resid_pre', 3);    // 'blocks.3.hook_resid_pre'
 * actName('k6');              // 'blocks.6.attn.hook_k'
 * actName('k', 6, 'a');       // 'blocks.6.attn.hook_k'
 * actName('scale', 2, 'ln1'); // 'blocks.2.ln1.hook_scale'
 * actName('scale4ln1');       // 'blocks.4.ln1.hook_scale'
 * actName('scale');           // 'ln_final.hook_scale'
 * actName('blocks.0.hook_z'); // passes through unchanged
 * ```
 */
export function actName(kind: string, layer?: number, layerType?: string): HookName {
  if (typeof kind !== 'string') {
    throw new InvalidArgumentError(`actName: kind must be a string, got ${typeof kind}.`);
  }
  if (
    (kind.includes('.') || kind.startsWith('hook_')) &&
    layer === undefined &&
    layerType === undefined
  ) {
    return kind as HookName;
  }
  let name = kind;
  let resolvedLayer = layer;
  let resolvedType = layerType;
  const compact = COMPACT_FORM.exec(kind);
  if (compact) {
    const compactLayer = Number(compact[2]);
    const compactType = compact[3] ?? '';
    if (layer !== undefined) {
      throw new InvalidArgumentError(
        `actName: "${kind}" already names layer ${compactLayer}, and layer ${layer} was passed too; pass either the compact form or a kind and a layer.`,
      );
    }
    if (compactType !== '' && layerType !== undefined && layerType !== compactType) {
      throw new InvalidArgumentError(
        `actName: "${kind}" already names layerType "${compactType}", and layerType "${layerType}" was passed too.`,
      );
    }
    name = compact[1]!;
    resolvedLayer = compactLayer;
    resolvedType = compactType !== '' ? compactType : layerType;
  }
  name = KIND_ALIASES.get(name) ?? name;
  if (resolvedLayer !== undefined && (!Number.isInteger(resolvedLayer) || resolvedLayer < 0)) {
    throw new InvalidArgumentError(
      `actName: layer must be an integer >= 0, got ${resolvedLayer} (for "${kind}"). ActivationCache.get resolves negative layers.`,
    );
  }
  const known =
    BLOCK_KINDS.has(name) ||
    ATTENTION_KINDS.has(name) ||
    MLP_KINDS.has(name) ||
    NORM_KINDS.has(name) ||
    GLOBAL_KINDS.has(name);
  if (!known) {
    throw new UnknownHookError(
      kind,
      closestNames(name, ACT_NAME_KINDS),
      ' (actName: not a known activation kind)',
    );
  }
  const group = resolvedType === undefined ? '' : LAYER_TYPE_ALIASES.get(resolvedType);
  if (group === undefined) {
    throw new UnknownHookError(
      kind,
      closestNames(resolvedType ?? '', [...LAYER_TYPE_ALIASES.keys()].filter(Boolean)),
      ` (actName: unknown layerType "${resolvedType}"; accepted: ln1, ln2, attn, mlp, a, attention, m, b, block, blocks)`,
    );
  }
  if (GLOBAL_KINDS.has(name)) {
    if (resolvedLayer !== undefined || group !== '') {
      throw new UnknownHookError(
        kind,
        [`hook_${name}`],
        ` (actName: "${name}" is not a per-block activation; call it without a layer or layerType)`,
      );
    }
    return `hook_${name}` as HookName;
  }
  if (NORM_KINDS.has(name)) {
    if (resolvedLayer === undefined) {
      if (group !== '') {
        throw new UnknownHookError(
          kind,
          [`ln_final.hook_${name}`, `blocks.0.${group}.hook_${name}`],
          ` (actName: layerType "${resolvedType}" needs a layer; without both, "${name}" is ln_final's)`,
        );
      }
      return `ln_final.hook_${name}` as HookName;
    }
    if (group !== 'ln1' && group !== 'ln2') {
      throw new UnknownHookError(
        kind,
        [`blocks.${resolvedLayer}.ln1.hook_${name}`, `blocks.${resolvedLayer}.ln2.hook_${name}`],
        ` (actName: layer ${resolvedLayer} needs layerType "ln1" or "ln2", got "${resolvedType ?? ''}")`,
      );
    }
    return `blocks.${resolvedLayer}.${group}.hook_${name}` as HookName;
  }
  const kindGroup = ATTENTION_KINDS.has(name) ? 'attn' : MLP_KINDS.has(name) ? 'mlp' : '';
  const prefix = kindGroup === '' ? '' : `${kindGroup}.`;
  if (resolvedLayer === undefined) {
    throw new UnknownHookError(
      kind,
      [`blocks.0.${prefix}hook_${name}`],
      ` (actName: "${name}" is a per-block activation and needs a layer, e.g. actName('${kind}', 0))`,
    );
  }
  if (group !== '' && group !== kindGroup) {
    throw new UnknownHookError(
      kind,
      [`blocks.${resolvedLayer}.${prefix}hook_${name}`],
      ` (actName: layerType "${resolvedType}" does not fit "${name}", which lives in ${kindGroup === '' ? 'the block itself' : kindGroup})`,
    );
  }
  return `blocks.${resolvedLayer}.${prefix}hook_${name}` as HookName;
}

/** Edit distance between two strings (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The valid names closest to `name` by edit distance (at most `count`, nearest first; ties in
 * alphabetical order).
 *
 * @param name - the name that was not found.
 * @param validNames - the names to choose from.
 * @param count - how many to return (default 3).
 * @example
 * ```ts
 * closestNames('blocks.0.hook_resid_pr', listHookNames(1)); // ['blocks.0.hook_resid_pre', ...]
 * ```
 */
export function closestNames(name: string, validNames: readonly string[], count = 3): string[] {
  return validNames
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, count)
    .map((entry) => entry.candidate);
}
