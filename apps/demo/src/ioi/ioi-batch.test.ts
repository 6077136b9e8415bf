import { TokenizationError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import { wordTokenizer } from '../test-support/word-tokenizer.js';
import { buildIoiBatch, groupIoiPromptsByLength, type IoiTokenizer } from './ioi-batch.js';
import { renderIoiPrompt } from './ioi-prompt.js';
import { createIoiSplits, sampleIoiPrompts } from './ioi-splits.js';
import { IOI_TRAINING_TEMPLATES } from './ioi-templates.js';

const filling = { order: 'ABBA', place: 'store', object: 'drink' } as const;

describe('buildIoiBatch', () => {
  it('tokenizes clean and corrupted rows of equal length with answer and wrong tokens', () => {
    const tokenizer = wordTokenizer();
    const template = IOI_TRAINING_TEMPLATES[0]!;
    const prompts = [
      renderIoiPrompt(template, { ...filling, indirectObject: 'Mary', subject: 'John' }),
      renderIoiPrompt(template, { ...filling, indirectObject: 'John', subject: 'Mary' }),
    ];
    const batch = buildIoiBatch(prompts, tokenizer);
    expect(batch.clean).toHaveLength(2);
    expect(batch.clean[0]).toHaveLength(batch.corrupted[0]!.length);
    expect(batch.clean[0]![0]).toBe(0);
    const mary = tokenizer.toSingleToken(' Mary');
    const john = tokenizer.toSingleToken(' John');
    expect(batch.answerTokens).toEqual([mary, john]);
    expect(batch.wrongTokens).toEqual([john, mary]);
    // the corruption differs from the clean prompt at one position: the subject's second mention
    const differences = batch.clean[0]!.flatMap((token, index) =>
      token === batch.corrupted[0]![index] ? [] : [index],
    );
    expect(differences).toHaveLength(1);
    expect(batch.clean[0]![differences[0]!]).toBe(john);
    expect(batch.corrupted[0]![differences[0]!]).toBe(mary);
  });

  it('refuses prompts of different lengths and unequal clean/corrupted lengths', () => {
    const tokenizer = wordTokenizer();
    const prompts = [
      renderIoiPrompt(IOI_TRAINING_TEMPLATES[0]!, {
        ...filling,
        indirectObject: 'Mary',
        subject: 'John',
      }),
      renderIoiPrompt(IOI_TRAINING_TEMPLATES[1]!, {
        ...filling,
        indirectObject: 'Mary',
        subject: 'John',
      }),
    ];
    expect(() => buildIoiBatch(prompts, tokenizer)).toThrow(TokenizationError);
    const uneven: IoiTokenizer = {
      ...tokenizer,
      encode: (text) => (text.includes('Mary gave') ? [1] : [1, 2]),
    };
    expect(() => buildIoiBatch(prompts.slice(0, 1), uneven)).toThrow(/corrupted prompt/);
  });
});

describe('groupIoiPromptsByLength', () => {
  it('groups prompts of equal length, keeping order, so every group batches', () => {
    const tokenizer = wordTokenizer();
    const prompts = sampleIoiPrompts(createIoiSplits().train, 60, 2);
    const groups = groupIoiPromptsByLength(prompts, tokenizer);
    expect(groups.reduce((sum, group) => sum + group.prompts.length, 0)).toBe(60);
    for (const group of groups) {
      const batch = buildIoiBatch(group.prompts, tokenizer);
      expect(batch.clean[0]).toHaveLength(group.length);
      const positions = group.prompts.map((prompt) => prompts.indexOf(prompt));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });
});
