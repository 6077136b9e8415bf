import { GPT2Tokenizer } from '@patchlens/models-gpt2';
import { describe, expect, it } from 'vitest';
import { pseudoNameTokens } from './pseudo-names.js';

describe('pseudoNameTokens', () => {
  const words = [' Boston', 'Boston', ' boston', ' Xy', ' Harper', ' B2B', ' Maple', ' Jo'];
  const tokenizer = { toStr: (ids: readonly number[]) => words[ids[0]!] ?? '' };

  it('picks capitalised single words with a leading space, minus the excluded ids', () => {
    const all = pseudoNameTokens(tokenizer, words.length, 10, 1, new Set());
    expect(all).toEqual([0, 4, 6]);
    expect(pseudoNameTokens(tokenizer, words.length, 10, 1, new Set([4]))).toEqual([0, 6]);
  });

  it('chooses count of them by seed, ascending', () => {
    const two = pseudoNameTokens(tokenizer, words.length, 2, 5, new Set());
    expect(two).toHaveLength(2);
    expect([...two].sort((a, b) => a - b)).toEqual(two);
    expect(pseudoNameTokens(tokenizer, words.length, 2, 5, new Set())).toEqual(two);
  });

  it('finds plenty of such tokens in GPT-2', () => {
    const tokenizer = new GPT2Tokenizer();
    const ids = pseudoNameTokens(tokenizer, 50257, 300, 2, new Set());
    expect(ids).toHaveLength(300);
    for (const id of ids) expect(tokenizer.toStr([id])).toMatch(/^ [A-Z][a-z]{2,}$/);
  });
});
