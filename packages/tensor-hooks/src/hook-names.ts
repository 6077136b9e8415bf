import { UnknownHookError } from './errors.js';

/** Hook names that belong to one transformer block, without the `blocks.{L}.` prefix. */
export type BlockHookSuffix =
  | 'hook_resid_pre'
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
  | 'mlp.hook_pre'
  | 'mlp.hook_post';

/** A hook point inside block `L`, e.g. `blocks.3.attn.hook_z`. */
export type BlockHookName = `blocks.${number}.${BlockHookSuffix}`;

/** A hook point outside the blocks. */
export type GlobalHookName =
  | 'hook_embed'
  | 'hook_pos_embed'
  | 'ln_final.hook_scale'
  | 'ln_final.hook_normalized';

/** Any hook point name of a GPT-2 block model, spelled exactly as TransformerLens spells it. */
export type HookName = GlobalHookName | BlockHookName;

/** The block hook suffixes in the order a forward pass reaches them. */
export const BLOCK_HOOK_SUFFIXES: readonly BlockHookSuffix[] = [
  'hook_resid_pre',
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

/**
 * Every hook name of a GPT-2 block model with `nLayers` blocks, in forward order.
 *
 * @param nLayers - number of transformer blocks.
 * @param options.useAttnResult - include `attn.hook_result` (per-head outputs, off by default like TransformerLens).
 * @example
 * ```ts
 * listHookNames(2).length; // 2 + 17 * 2 + 2 = 38
 * ```
 */
export function listHookNames(
  nLayers: number,
  options: { useAttnResult?: boolean } = {},
): HookName[] {
  const names: HookName[] = ['hook_embed', 'hook_pos_embed'];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const suffix of BLOCK_HOOK_SUFFIXES) {
      if (suffix === 'attn.hook_result' && !options.useAttnResult) continue;
      names.push(`blocks.${layer}.${suffix}`);
    }
  }
  names.push('ln_final.hook_scale', 'ln_final.hook_normalized');
  return names;
}

/** The layer a hook name belongs to (`blocks.{L}.…`), or undefined for global hooks. */
export function layerOfHook(name: string): number | undefined {
  const match = /^blocks\.(\d+)\./.exec(name);
  return match ? Number(match[1]) : undefined;
}

const KIND_ALIASES: Record<string, string> = {
  attn: 'pattern',
  attn_logits: 'attn_scores',
  key: 'k',
  query: 'q',
  value: 'v',
  mlp_pre: 'pre',
  mlp_post: 'post',
};
const LAYER_TYPE_ALIASES: Record<string, string> = {
  a: 'attn',
  m: 'mlp',
  b: '',
  block: '',
  blocks: '',
  attention: 'attn',
};
const ATTENTION_KINDS = new Set(['q', 'k', 'v', 'z', 'result', 'pattern', 'attn_scores']);
const MLP_KINDS = new Set(['pre', 'post']);
const BLOCK_KINDS = new Set(['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out']);
const NORM_KINDS = new Set(['scale', 'normalized']);
const GLOBAL_KINDS = new Set(['embed', 'pos_embed']);
const NORM_LAYER_TYPES = new Set(['ln1', 'ln2']);

/** Every short kind `actName` accepts (aliases included). */
export const ACT_NAME_KINDS: readonly string[] = [
  ...BLOCK_KINDS,
  ...ATTENTION_KINDS,
  ...MLP_KINDS,
  ...NORM_KINDS,
  ...GLOBAL_KINDS,
  ...Object.keys(KIND_ALIASES),
];

/**
 * Full hook name from a short one, like TransformerLens's `utils.get_act_name`.
 *
 * Accepts the kinds `resid_pre|resid_mid|resid_post|attn_out|mlp_out`, `q|k|v|z|result|pattern|attn_scores`
 * (aliases `attn`, `attn_logits`, `query`, `key`, `value`), `pre|post` (aliases `mlp_pre`, `mlp_post`),
 * `embed`, `pos_embed`, `scale|normalized` (with `ln1`/`ln2`, or without a layer for `ln_final`), and
 * compact forms such as `"k6"` or `"scale4ln1"`. Full names (containing a dot or starting with `hook_`)
 * pass through unchanged when no layer is given.
 *
 * @param kind - short kind, compact form or full name.
 * @param layer - block index; required for block-level kinds.
 * @param layerType - `ln1`, `ln2`, `attn`, `mlp` (aliases `a`, `m`, `attention`); needed only for `scale`/`normalized`.
 * @throws UnknownHookError for an unknown kind, listing the nearest valid kinds.
 * @example
 * ```ts
 * actName('resid_pre', 3); // 'blocks.3.hook_resid_pre'
 * actName('k6');           // 'blocks.6.attn.hook_k'
 * actName('scale', 2, 'ln1'); // 'blocks.2.ln1.hook_scale'
 * actName('scale');        // 'ln_final.hook_scale'
 * ```
 */
export function actName(kind: string, layer?: number, layerType?: string): HookName {
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
  const compact = /^([a-z]+)(\d+)([a-z]?.*)$/.exec(kind);
  if (compact && layer === undefined) {
    name = compact[1]!;
    resolvedLayer = Number(compact[2]);
    resolvedType = compact[3] || undefined;
  }
  name = KIND_ALIASES[name] ?? name;
  if (resolvedLayer !== undefined && (!Number.isInteger(resolvedLayer) || resolvedLayer < 0)) {
    throw new UnknownHookError(
      kind,
      [],
      ` (actName: layer must be a non-negative integer, got ${resolvedLayer})`,
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
  if (GLOBAL_KINDS.has(name)) return `hook_${name}` as HookName;
  if (NORM_KINDS.has(name)) {
    if (resolvedLayer === undefined) return `ln_final.hook_${name}` as HookName;
    const normType = resolvedType ?? '';
    if (!NORM_LAYER_TYPES.has(normType)) {
      throw new UnknownHookError(
        kind,
        [`${name} with layerType "ln1"`, `${name} with layerType "ln2"`],
        ` (actName: layer ${resolvedLayer} needs layerType "ln1" or "ln2", got "${normType}")`,
      );
    }
    return `blocks.${resolvedLayer}.${normType}.hook_${name}` as HookName;
  }
  if (resolvedLayer === undefined) {
    throw new UnknownHookError(
      kind,
      [`${kind} with a layer, e.g. actName('${kind}', 0)`],
      ` (actName: "${name}" is a per-block activation and needs a layer)`,
    );
  }
  let group = '';
  if (ATTENTION_KINDS.has(name)) group = 'attn.';
  else if (MLP_KINDS.has(name)) group = 'mlp.';
  else if (resolvedType !== undefined && resolvedType !== '') {
    const alias = LAYER_TYPE_ALIASES[resolvedType];
    if (alias === undefined) {
      throw new UnknownHookError(
        kind,
        Object.keys(LAYER_TYPE_ALIASES),
        ` (actName: unknown layerType "${resolvedType}")`,
      );
    }
    group = alias ? `${alias}.` : '';
  }
  return `blocks.${resolvedLayer}.${group}hook_${name}` as HookName;
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
 * The valid names closest to `name` by edit distance (at most `count`, nearest first).
 *
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
