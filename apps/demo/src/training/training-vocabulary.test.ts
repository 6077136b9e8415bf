import { GPT2_BOS_TOKEN_ID, GPT2Tokenizer } from '@patchlens/models-gpt2';
import { describe, expect, it } from 'vitest';
import { ioiPromptTokens } from '../ioi/ioi-batch.js';
import { createIoiSplits, sampleIoiPrompts } from '../ioi/ioi-splits.js';
import { IOI_UNSEEN_NAMES } from '../ioi/ioi-vocabulary.js';
import { trainingVocabulary } from './training-vocabulary.js';

describe('trainingVocabulary', () => {
  const tokenizer = new GPT2Tokenizer();
  const splits = createIoiSplits();
  const vocabulary = trainingVocabulary(splits.train, tokenizer);

  it('covers every token of sampled training prompts and answers', () => {
    const ids = new Set(vocabulary.tokenIds);
    for (const prompt of sampleIoiPrompts(splits.train, 500, 11)) {
      for (const id of ioiPromptTokens(tokenizer, prompt.clean)) expect(ids.has(id)).toBe(true);
      expect(ids.has(tokenizer.toSingleToken(prompt.answer))).toBe(true);
    }
    expect(ids.has(GPT2_BOS_TOKEN_ID)).toBe(true);
  });

  it('numbers the tokens compactly in ascending order', () => {
    expect([...vocabulary.tokenIds].sort((a, b) => a - b)).toEqual(vocabulary.tokenIds);
    vocabulary.tokenIds.forEach((id, index) => {
      expect(vocabulary.compactIdOf.get(id)).toBe(index);
    });
    expect(vocabulary.nameIds).toHaveLength(100);
    for (const id of vocabulary.nameIds) {
      expect((tokenizer.toStr([vocabulary.tokenIds[id]!]) as string).startsWith(' ')).toBe(true);
    }
  });

  it('leaves out the unseen names and the held-out templates words', () => {
    const ids = new Set(vocabulary.tokenIds);
    for (const name of IOI_UNSEEN_NAMES) {
      expect(ids.has(tokenizer.toSingleToken(` ${name}`))).toBe(false);
    }
    expect(ids.has(tokenizer.toSingleToken(' Yesterday'))).toBe(false);
  });
});
