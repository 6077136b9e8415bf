import { InvalidArgumentError, UnknownHookError } from '@patchlens/errors';
import { describe, expect, it } from 'vitest';
import {
  ACT_NAME_KINDS,
  actName,
  BLOCK_HOOK_SUFFIXES,
  closestNames,
  layerOfHook,
  listHookNames,
} from './hook-names.js';

describe('listHookNames', () => {
  it('lists every hook point in forward order', () => {
    const names = listHookNames(2);
    expect(names).toHaveLength(2 + 17 * 2 + 4);
    expect(names.slice(0, 3)).toEqual(['hook_embed', 'hook_pos_embed', 'blocks.0.hook_resid_pre']);
    expect(names.slice(-5)).toEqual([
      'blocks.1.hook_resid_post',
      'ln_final.hook_scale',
      'ln_final.hook_normalized',
      'unembed.hook_in',
      'unembed.hook_out',
    ]);
    expect(names).not.toContain('blocks.0.attn.hook_result');
    expect(names.indexOf('blocks.0.attn.hook_attn_scores')).toBeLessThan(
      names.indexOf('blocks.0.attn.hook_pattern'),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('includes attn.hook_result only with useAttnResult', () => {
    const names = listHookNames(3, { useAttnResult: true });
    expect(names).toHaveLength(2 + 18 * 3 + 4);
    expect(names.indexOf('blocks.2.attn.hook_result')).toBe(
      names.indexOf('blocks.2.attn.hook_z') + 1,
    );
    expect(BLOCK_HOOK_SUFFIXES).toHaveLength(21);
  });

  it('lists only the global hooks for zero layers and rejects a bad count', () => {
    expect(listHookNames(0)).toEqual([
      'hook_embed',
      'hook_pos_embed',
      'ln_final.hook_scale',
      'ln_final.hook_normalized',
      'unembed.hook_in',
      'unembed.hook_out',
    ]);
    expect(() => listHookNames(-1)).toThrow(InvalidArgumentError);
    expect(() => listHookNames(1.5)).toThrow(InvalidArgumentError);
  });
});

describe('layerOfHook', () => {
  it('reads the block index, or undefined for global hooks', () => {
    expect(layerOfHook('blocks.11.ln2.hook_scale')).toBe(11);
    expect(layerOfHook('blocks.0.hook_resid_pre')).toBe(0);
    expect(layerOfHook('hook_pos_embed')).toBeUndefined();
    expect(layerOfHook('ln_final.hook_normalized')).toBeUndefined();
    expect(layerOfHook('unembed.hook_out')).toBeUndefined();
  });
});

describe('actName', () => {
  it.each([
    ['resid_pre', 'blocks.3.hook_resid_pre'],
    ['resid_mid', 'blocks.3.hook_resid_mid'],
    ['resid_post', 'blocks.3.hook_resid_post'],
    ['attn_out', 'blocks.3.hook_attn_out'],
    ['mlp_out', 'blocks.3.hook_mlp_out'],
  ])('block kind %s -> %s', (kind, full) => {
    expect(actName(kind, 3)).toBe(full);
    for (const blockType of ['b', 'block', 'blocks', ''])
      expect(actName(kind, 3, blockType)).toBe(full);
  });

  it.each([
    ['q', 'blocks.5.attn.hook_q'],
    ['k', 'blocks.5.attn.hook_k'],
    ['v', 'blocks.5.attn.hook_v'],
    ['z', 'blocks.5.attn.hook_z'],
    ['result', 'blocks.5.attn.hook_result'],
    ['pattern', 'blocks.5.attn.hook_pattern'],
    ['attn_scores', 'blocks.5.attn.hook_attn_scores'],
    ['attn', 'blocks.5.attn.hook_pattern'],
    ['attn_logits', 'blocks.5.attn.hook_attn_scores'],
    ['key', 'blocks.5.attn.hook_k'],
    ['query', 'blocks.5.attn.hook_q'],
    ['value', 'blocks.5.attn.hook_v'],
  ])('attention kind %s -> %s', (kind, full) => {
    expect(actName(kind, 5)).toBe(full);
    for (const attentionType of ['a', 'attn', 'attention', '']) {
      expect(actName(kind, 5, attentionType)).toBe(full);
    }
  });

  it.each([
    ['pre', 'blocks.2.mlp.hook_pre'],
    ['post', 'blocks.2.mlp.hook_post'],
    ['mlp_pre', 'blocks.2.mlp.hook_pre'],
    ['mlp_post', 'blocks.2.mlp.hook_post'],
  ])('MLP kind %s -> %s', (kind, full) => {
    expect(actName(kind, 2)).toBe(full);
    expect(actName(kind, 2, 'm')).toBe(full);
    expect(actName(kind, 2, 'mlp')).toBe(full);
  });

  it('embed and pos_embed have no layer', () => {
    expect(actName('embed')).toBe('hook_embed');
    expect(actName('pos_embed')).toBe('hook_pos_embed');
    expect(() => actName('embed', 0)).toThrow(UnknownHookError);
    expect(() => actName('pos_embed', undefined, 'attn')).toThrow(UnknownHookError);
  });

  it('scale and normalized take ln1/ln2 with a layer, or neither for ln_final', () => {
    expect(actName('scale', 2, 'ln1')).toBe('blocks.2.ln1.hook_scale');
    expect(actName('scale', 2, 'ln2')).toBe('blocks.2.ln2.hook_scale');
    expect(actName('normalized', 27, 'ln2')).toBe('blocks.27.ln2.hook_normalized');
    expect(actName('normalized', 0, 'ln1')).toBe('blocks.0.ln1.hook_normalized');
    expect(actName('scale')).toBe('ln_final.hook_scale');
    expect(actName('normalized')).toBe('ln_final.hook_normalized');
    const missingType = (() => {
      try {
        actName('scale', 2);
      } catch (error) {
        return error;
      }
    })();
    expect(UnknownHookError.isInstance(missingType)).toBe(true);
    expect((missingType as UnknownHookError).suggestions).toEqual([
      'blocks.2.ln1.hook_scale',
      'blocks.2.ln2.hook_scale',
    ]);
    expect(() => actName('scale', undefined, 'ln1')).toThrow(UnknownHookError);
    expect(() => actName('normalized', 1, 'attn')).toThrow(UnknownHookError);
  });

  it.each([
    ['k6', 'blocks.6.attn.hook_k'],
    ['q0', 'blocks.0.attn.hook_q'],
    ['v11', 'blocks.11.attn.hook_v'],
    ['z3', 'blocks.3.attn.hook_z'],
    ['result2', 'blocks.2.attn.hook_result'],
    ['pattern4', 'blocks.4.attn.hook_pattern'],
    ['attn4', 'blocks.4.attn.hook_pattern'],
    ['key1', 'blocks.1.attn.hook_k'],
    ['query1', 'blocks.1.attn.hook_q'],
    ['value1', 'blocks.1.attn.hook_v'],
    ['pre5', 'blocks.5.mlp.hook_pre'],
    ['post7', 'blocks.7.mlp.hook_post'],
    ['k6a', 'blocks.6.attn.hook_k'],
    ['pre5m', 'blocks.5.mlp.hook_pre'],
    ['scale4ln1', 'blocks.4.ln1.hook_scale'],
    ['normalized9ln2', 'blocks.9.ln2.hook_normalized'],
  ])('compact form %s -> %s', (compact, full) => {
    expect(actName(compact)).toBe(full);
  });

  it("matches TransformerLens's documented get_act_name examples", () => {
    expect(actName('k', 6, 'a')).toBe('blocks.6.attn.hook_k');
    expect(actName('pre', 2)).toBe('blocks.2.mlp.hook_pre');
    expect(actName('embed')).toBe('hook_embed');
    expect(actName('normalized', 27, 'ln2')).toBe('blocks.27.ln2.hook_normalized');
    expect(actName('k6')).toBe('blocks.6.attn.hook_k');
    expect(actName('scale4ln1')).toBe('blocks.4.ln1.hook_scale');
    expect(actName('pre5')).toBe('blocks.5.mlp.hook_pre');
  });

  it('takes a compact form layerType from the argument when the form has none', () => {
    expect(actName('scale4', undefined, 'ln2')).toBe('blocks.4.ln2.hook_scale');
    expect(() => actName('scale4ln1', undefined, 'ln2')).toThrow(InvalidArgumentError);
    expect(() => actName('k6', 2)).toThrow(InvalidArgumentError);
  });

  it('passes full names through unchanged', () => {
    for (const full of [
      'blocks.0.hook_resid_pre',
      'blocks.3.attn.hook_pattern',
      'hook_embed',
      'hook_pos_embed',
      'ln_final.hook_scale',
      'blocks.99.not_checked_here',
    ]) {
      expect(actName(full)).toBe(full);
    }
  });

  it('gives only names that listHookNames lists', () => {
    const valid = new Set<string>(listHookNames(3, { useAttnResult: true }));
    const produced = [
      ...['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out'].map((k) => actName(k, 2)),
      ...['q', 'k', 'v', 'z', 'result', 'pattern', 'attn_scores', 'pre', 'post'].map((k) =>
        actName(k, 2),
      ),
      actName('scale', 2, 'ln1'),
      actName('normalized', 2, 'ln2'),
      actName('scale'),
      actName('normalized'),
      actName('embed'),
      actName('pos_embed'),
    ];
    for (const name of produced) expect(valid.has(name)).toBe(true);
  });

  it('rejects an unknown kind with the nearest valid kinds', () => {
    const cases: [string, string][] = [
      ['resid_pr', 'resid_pre'],
      ['pattrn', 'pattern'],
      ['resid_pre3', 'resid_pre'],
      ['attn_score', 'attn_scores'],
    ];
    for (const [kind, nearest] of cases) {
      let caught: unknown;
      try {
        actName(kind, 1);
      } catch (error) {
        caught = error;
      }
      expect(UnknownHookError.isInstance(caught)).toBe(true);
      expect((caught as UnknownHookError).suggestions[0]).toBe(nearest);
      expect((caught as UnknownHookError).hookName).toBe(kind);
      expect((caught as Error).message).toContain(`"${nearest}"`);
    }
    expect(() => actName('constructor', 0)).toThrow(UnknownHookError);
    expect(() => actName('k', 0, 'constructor')).toThrow(UnknownHookError);
  });

  it('rejects a per-block kind without a layer, suggesting a full name', () => {
    let caught: unknown;
    try {
      actName('z');
    } catch (error) {
      caught = error;
    }
    expect((caught as UnknownHookError).suggestions).toEqual(['blocks.0.attn.hook_z']);
  });

  it('rejects a layerType that contradicts the kind', () => {
    expect(() => actName('k', 0, 'mlp')).toThrow(UnknownHookError);
    expect(() => actName('pre', 0, 'a')).toThrow(UnknownHookError);
    expect(() => actName('resid_pre', 0, 'attn')).toThrow(UnknownHookError);
    expect(() => actName('resid_pre', 0, 'ln1')).toThrow(UnknownHookError);
    expect(() => actName('resid_pre', 0, 'xyz')).toThrow(UnknownHookError);
  });

  it('rejects a negative or fractional layer', () => {
    expect(() => actName('resid_pre', -1)).toThrow(InvalidArgumentError);
    expect(() => actName('resid_pre', 1.5)).toThrow(InvalidArgumentError);
  });

  it('lists every accepted kind', () => {
    for (const kind of ['resid_pre', 'attn', 'attn_logits', 'key', 'mlp_post', 'scale', 'embed']) {
      expect(ACT_NAME_KINDS).toContain(kind);
    }
  });
});

describe('closestNames', () => {
  it('returns the nearest names first, at most count, ties alphabetical', () => {
    const names = listHookNames(2);
    expect(closestNames('blocks.1.attn.hook_zz', names)[0]).toBe('blocks.1.attn.hook_z');
    expect(closestNames('abc', ['abd', 'abe', 'xyz', 'abc1'], 2)).toEqual(['abc1', 'abd']);
    expect(closestNames('x', [])).toEqual([]);
  });
});
