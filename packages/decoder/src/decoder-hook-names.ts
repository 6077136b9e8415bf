import type { BlockHookSuffix, HookName } from '@patchlens/tensor-hooks';
import type { DecoderConfig } from './decoder-config.js';

/**
 * The block hook points of a decoder with this config, in the order a forward pass reaches them
 * (TransformerLens 3.x): rotary models add `attn.hook_rot_q`/`hook_rot_k`, gated MLPs
 * `mlp.hook_pre_linear`, parallel blocks have no `hook_resid_mid`; `useSplitQkvInput` adds
 * `hook_q_input`/`hook_k_input`/`hook_v_input`, `useAttnResult` `attn.hook_result`.
 *
 * @example
 * ```ts
 * blockHookSuffixes(config).includes('attn.hook_rot_q'); // true for rotary models
 * ```
 */
export function blockHookSuffixes(
  config: Pick<DecoderConfig, 'positionalEmbeddingType' | 'gatedMlp' | 'parallelAttnMlp'>,
  options: { useAttnResult?: boolean; useSplitQkvInput?: boolean } = {},
): BlockHookSuffix[] {
  const rotary = config.positionalEmbeddingType === 'rotary';
  const split = options.useSplitQkvInput === true;
  const suffixes: (BlockHookSuffix | false)[] = [
    'hook_resid_pre',
    split && 'hook_q_input',
    split && 'hook_k_input',
    split && 'hook_v_input',
    'ln1.hook_scale',
    'ln1.hook_normalized',
    'attn.hook_q',
    'attn.hook_k',
    'attn.hook_v',
    rotary && 'attn.hook_rot_q',
    rotary && 'attn.hook_rot_k',
    'attn.hook_attn_scores',
    'attn.hook_pattern',
    'attn.hook_z',
    options.useAttnResult === true && 'attn.hook_result',
    'hook_attn_out',
    !config.parallelAttnMlp && 'hook_resid_mid',
    'ln2.hook_scale',
    'ln2.hook_normalized',
    'mlp.hook_pre',
    config.gatedMlp && 'mlp.hook_pre_linear',
    'mlp.hook_post',
    'hook_mlp_out',
    'hook_resid_post',
  ];
  return suffixes.filter((suffix): suffix is BlockHookSuffix => suffix !== false);
}

/**
 * Every hook point of a decoder with this config, in forward order: `hook_embed`,
 * `hook_pos_embed` (standard positions only), the blocks', `ln_final.*`, `unembed.hook_in`,
 * `unembed.hook_out`.
 *
 * @example
 * ```ts
 * decoderHookNames(config).at(-1); // 'unembed.hook_out'
 * ```
 */
export function decoderHookNames(
  config: Pick<
    DecoderConfig,
    'nLayers' | 'positionalEmbeddingType' | 'gatedMlp' | 'parallelAttnMlp'
  >,
  options: { useAttnResult?: boolean; useSplitQkvInput?: boolean } = {},
): HookName[] {
  const names: HookName[] = ['hook_embed'];
  if (config.positionalEmbeddingType === 'standard') names.push('hook_pos_embed');
  const suffixes = blockHookSuffixes(config, options);
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const suffix of suffixes) names.push(`blocks.${layer}.${suffix}`);
  }
  names.push(
    'ln_final.hook_scale',
    'ln_final.hook_normalized',
    'unembed.hook_in',
    'unembed.hook_out',
  );
  return names;
}

/** One block's hook names, built once per layer. */
export interface BlockHookNames {
  readonly residPre: HookName;
  readonly qInput: HookName;
  readonly kInput: HookName;
  readonly vInput: HookName;
  readonly ln1Scale: HookName;
  readonly ln1Normalized: HookName;
  readonly q: HookName;
  readonly k: HookName;
  readonly v: HookName;
  readonly rotQ: HookName;
  readonly rotK: HookName;
  readonly attnScores: HookName;
  readonly pattern: HookName;
  readonly z: HookName;
  readonly result: HookName;
  readonly attnOut: HookName;
  readonly residMid: HookName;
  readonly ln2Scale: HookName;
  readonly ln2Normalized: HookName;
  readonly mlpPre: HookName;
  readonly mlpPreLinear: HookName;
  readonly mlpPost: HookName;
  readonly mlpOut: HookName;
  readonly residPost: HookName;
}

const cache: BlockHookNames[] = [];

/** The hook names of block `layer` (cached). */
export function blockHookNames(layer: number): BlockHookNames {
  let names = cache[layer];
  if (!names) {
    const p = `blocks.${layer}.` as const;
    names = {
      residPre: `${p}hook_resid_pre`,
      qInput: `${p}hook_q_input`,
      kInput: `${p}hook_k_input`,
      vInput: `${p}hook_v_input`,
      ln1Scale: `${p}ln1.hook_scale`,
      ln1Normalized: `${p}ln1.hook_normalized`,
      q: `${p}attn.hook_q`,
      k: `${p}attn.hook_k`,
      v: `${p}attn.hook_v`,
      rotQ: `${p}attn.hook_rot_q`,
      rotK: `${p}attn.hook_rot_k`,
      attnScores: `${p}attn.hook_attn_scores`,
      pattern: `${p}attn.hook_pattern`,
      z: `${p}attn.hook_z`,
      result: `${p}attn.hook_result`,
      attnOut: `${p}hook_attn_out`,
      residMid: `${p}hook_resid_mid`,
      ln2Scale: `${p}ln2.hook_scale`,
      ln2Normalized: `${p}ln2.hook_normalized`,
      mlpPre: `${p}mlp.hook_pre`,
      mlpPreLinear: `${p}mlp.hook_pre_linear`,
      mlpPost: `${p}mlp.hook_post`,
      mlpOut: `${p}hook_mlp_out`,
      residPost: `${p}hook_resid_post`,
    };
    cache[layer] = names;
  }
  return names;
}
