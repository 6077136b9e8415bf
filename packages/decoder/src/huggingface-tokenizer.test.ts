import { readFileSync } from 'node:fs';
import { useBackend } from '@patchlens/backends/testing';
import { TokenizationError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { HuggingFaceTokenizer } from './huggingface-tokenizer.js';

// Small tokenizer.json files written for these tests (test/fixtures): the expected ids follow
// by hand from their vocabularies and merge lists.
const fixture = (name: string) =>
  readFileSync(new URL(`../test/fixtures/${name}.tokenizer.json`, import.meta.url), 'utf8');

beforeAll(() => useBackend('cpu'));

describe('a byte-level BPE tokenizer.json (GPT-NeoX style, no BOS by default)', () => {
  const tokenizer = HuggingFaceTokenizer.fromJson(fixture('byte-level-bpe'), {
    bosTokenId: 0,
    defaultPrependBos: false,
  });

  it('encodes by the merges: "hello world" -> hello, Ġworld', () => {
    expect(tokenizer.encode('hello world')).toEqual([12, 17]);
    expect(tokenizer.encode('hell')).toEqual([9, 10]); // he + ll
  });

  it('toTokens prepends BOS only when asked (Pythia: default_prepend_bos false)', () => {
    const plain = tokenizer.toTokens(['hello world', 'hello world']);
    expect(plain.arraySync()).toEqual([
      [12, 17],
      [12, 17],
    ]);
    const withBos = tokenizer.toTokens('hello world', { prependBos: true });
    expect(withBos.arraySync()).toEqual([[0, 12, 17]]);
    tf.dispose([plain, withBos]);
  });

  it('decodes, splits into token texts, and finds single tokens', () => {
    expect(tokenizer.toStr([12, 17])).toBe('hello world');
    expect(tokenizer.toStrTokens('hello world', { prependBos: true })).toEqual([
      '<|endoftext|>',
      'hello',
      ' world',
    ]);
    expect(tokenizer.toSingleToken(' world')).toBe(17);
    expect(() => tokenizer.toSingleToken('hell')).toThrow(/2 tokens/);
  });

  it('rejects a batch of different token lengths, naming them', () => {
    expect(() => tokenizer.toTokens(['hello', 'hello world'])).toThrow(TokenizationError);
  });
});

describe('a SentencePiece-style BPE tokenizer.json (Llama style, BOS by default)', () => {
  const tokenizer = HuggingFaceTokenizer.fromJson(fixture('metaspace-bpe'), {
    tokenizerConfig: { bos_token: '<s>' },
  });

  it('prepends ▁ to the first word and BOS (id of tokenizer_config bos_token) first', () => {
    expect(tokenizer.bosTokenId).toBe(1);
    const tokens = tokenizer.toTokens('hello world');
    expect(tokens.arraySync()).toEqual([[1, 15, 20]]);
    tokens.dispose();
    expect(tokenizer.toStr([15, 20])).toBe('hello world');
  });

  it('is an error to ask for BOS when the checkpoint names none', () => {
    const bare = HuggingFaceTokenizer.fromJson(fixture('metaspace-bpe'));
    expect(() => bare.toTokens('hello')).toThrow(/names no BOS/);
  });
});

it('rejects JSON that is not a tokenizer', () => {
  expect(() => HuggingFaceTokenizer.fromJson('{"vocab": {}}')).toThrow(TokenizationError);
  expect(() => HuggingFaceTokenizer.fromJson('not json')).toThrow(TokenizationError);
});
