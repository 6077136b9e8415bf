import { useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError, TokenizationError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2_BOS_TOKEN_ID, GPT2Tokenizer } from './gpt2-tokenizer.js';

const tokenizer = new GPT2Tokenizer();

describe('GPT2Tokenizer (r50k_base)', () => {
  beforeAll(() => useBackend('cpu'));

  it('uses GPT-2 ids (r50k_base, not the package default)', () => {
    // Known GPT-2 ids: " Mary" 5335, " John" 1757, "Hello world" = [15496, 995], <|endoftext|> 50256.
    expect(tokenizer.encode(' Mary')).toEqual([5335]);
    expect(tokenizer.encode(' John')).toEqual([1757]);
    expect(tokenizer.encode('Hello world')).toEqual([15496, 995]);
    expect(tokenizer.encode('<|endoftext|>')).toEqual([50256]);
    expect(GPT2_BOS_TOKEN_ID).toBe(50256);
  });

  it('toTokens prepends BOS by default, int32 [batch, pos]', () => {
    const tokens = tokenizer.toTokens('Hello world');
    expect(tokens.dtype).toBe('int32');
    expect(tokens.arraySync()).toEqual([[50256, 15496, 995]]);
    const without = tokenizer.toTokens('Hello world', { prependBos: false });
    expect(without.arraySync()).toEqual([[15496, 995]]);
    const batch = tokenizer.toTokens([' John', ' Mary']);
    expect(batch.arraySync()).toEqual([
      [50256, 1757],
      [50256, 5335],
    ]);
    tf.dispose([tokens, without, batch]);
  });

  it('toTokens refuses a batch of unequal lengths, naming them', () => {
    const before = tf.memory().numTensors;
    expect(() => tokenizer.toTokens(['Hello world', ' Mary'])).toThrow(TokenizationError);
    expect(() => tokenizer.toTokens(['Hello world', ' Mary'])).toThrow(
      /"Hello world" -> 3, " Mary" -> 2/,
    );
    expect(() => tokenizer.toTokens('', { prependBos: false })).toThrow(/empty/);
    expect(() => tokenizer.toTokens([])).toThrow(InvalidArgumentError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('toStr and toStrTokens', () => {
    expect(tokenizer.toStr([50256, 5335])).toBe('<|endoftext|> Mary');
    const rows = tf.tensor2d(
      [
        [15496, 995],
        [1757, 5335],
      ],
      undefined,
      'int32',
    );
    expect(tokenizer.toStr(rows)).toEqual(['Hello world', ' John Mary']);
    expect(tokenizer.toStrTokens('Hello world')).toEqual(['<|endoftext|>', 'Hello', ' world']);
    expect(tokenizer.toStrTokens('Hello world', { prependBos: false })).toEqual([
      'Hello',
      ' world',
    ]);
    expect(tokenizer.toStrTokens(new Int32Array([1757, 5335]))).toEqual([' John', ' Mary']);
    const one = tf.tensor2d([[1757, 5335]], undefined, 'int32');
    expect(tokenizer.toStrTokens(one)).toEqual([' John', ' Mary']);
    expect(() => tokenizer.toStrTokens(rows)).toThrow(/2 rows/);
    expect(() => tokenizer.toStr([50257])).toThrow(/token id 50257 is outside/);
    tf.dispose([rows, one]);
  });

  it('toSingleToken', () => {
    expect(tokenizer.toSingleToken(' Mary')).toBe(5335);
    expect(() => tokenizer.toSingleToken('Mary and')).toThrow(TokenizationError);
    expect(() => tokenizer.toSingleToken(' Mary and')).toThrow(
      /" Mary and" is 2 tokens \(" Mary"=5335, " and"=290\); expected exactly one/,
    );
    expect(() => tokenizer.toSingleToken('')).toThrow(/"" is 0 tokens/);
  });
});
