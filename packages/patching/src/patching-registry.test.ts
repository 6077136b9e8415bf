import { describe, expect, it } from 'vitest';
import { getActPatchAttnHeadOutByPos } from './activation-patch-functions.js';
import {
  PATCHING_FUNCTION_NAMES,
  PATCHING_FUNCTIONS,
  resolvePatchingNames,
} from './patching-registry.js';
import { getActPatchBlockEvery } from './stacked-patch-functions.js';

describe('the CLI name registry', () => {
  it('maps every TransformerLens name to its function', () => {
    expect(PATCHING_FUNCTION_NAMES).toEqual([
      'resid_pre',
      'resid_mid',
      'attn_out',
      'mlp_out',
      'attn_head_out_by_pos',
      'attn_head_q_by_pos',
      'attn_head_k_by_pos',
      'attn_head_v_by_pos',
      'attn_head_pattern_by_pos',
      'attn_head_pattern_dest_src_pos',
      'attn_head_out_all_pos',
      'attn_head_q_all_pos',
      'attn_head_k_all_pos',
      'attn_head_v_all_pos',
      'attn_head_pattern_all_pos',
      'attn_head_all_pos_every',
      'attn_head_by_pos_every',
      'block_every',
    ]);
    expect(PATCHING_FUNCTIONS.attn_head_out_by_pos).toBe(getActPatchAttnHeadOutByPos);
    expect(PATCHING_FUNCTIONS.block_every).toBe(getActPatchBlockEvery);
  });

  it('resolves --patch values and names the valid ones on a typo', () => {
    expect(resolvePatchingNames('resid_pre, block_every,resid_pre')).toEqual([
      'resid_pre',
      'block_every',
    ]);
    expect(resolvePatchingNames(['attn_out'])).toEqual(['attn_out']);
    const all = resolvePatchingNames('all');
    expect(all).toHaveLength(18);
    expect(new Set(all)).toEqual(new Set(Object.keys(PATCHING_FUNCTIONS)));
    expect(() => resolvePatchingNames('resid_pr')).toThrow(
      /unknown sweep "resid_pr"; did you mean "resid_pre".*Valid names: all, resid_pre, resid_mid/,
    );
    expect(() => resolvePatchingNames(' , ')).toThrow(/no sweep named/);
  });
});
