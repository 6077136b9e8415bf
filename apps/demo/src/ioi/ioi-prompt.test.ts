import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import { renderIoiPrompt } from './ioi-prompt.js';
import { IOI_HELD_OUT_TEMPLATES, IOI_TRAINING_TEMPLATES } from './ioi-templates.js';

const template = IOI_TRAINING_TEMPLATES[0]!;

describe('renderIoiPrompt', () => {
  it('fills an ABBA prompt and its corruption', () => {
    const prompt = renderIoiPrompt(template, {
      indirectObject: 'Mary',
      subject: 'John',
      order: 'ABBA',
      place: 'store',
      object: 'drink',
    });
    expect(prompt.clean).toBe('When Mary and John went to the store, John gave a drink to');
    expect(prompt.corrupted).toBe('When Mary and John went to the store, Mary gave a drink to');
    expect(prompt.answer).toBe(' Mary');
    expect(prompt.wrong).toBe(' John');
    expect(prompt.templateId).toBe('train-00');
  });

  it('fills a BABA prompt', () => {
    const prompt = renderIoiPrompt(template, {
      indirectObject: 'Mary',
      subject: 'John',
      order: 'BABA',
      place: 'park',
      object: 'book',
    });
    expect(prompt.clean).toBe('When John and Mary went to the park, John gave a book to');
    expect(prompt.corrupted).toBe('When John and Mary went to the park, Mary gave a book to');
  });

  it('mentions the indirect object once and the subject twice in every template', () => {
    for (const each of [...IOI_TRAINING_TEMPLATES, ...IOI_HELD_OUT_TEMPLATES]) {
      for (const order of ['ABBA', 'BABA'] as const) {
        const prompt = renderIoiPrompt(each, {
          indirectObject: 'Mary',
          subject: 'John',
          order,
          place: 'store',
          object: 'drink',
        });
        const words = prompt.clean.split(/[\s,.]+/);
        expect(words.filter((word) => word === 'Mary')).toHaveLength(1);
        expect(words.filter((word) => word === 'John')).toHaveLength(2);
        expect(prompt.clean).not.toMatch(/[{}]/);
        // every name follows a space, so " Mary" is the token that appears in the prompt
        expect(prompt.clean).toContain(' Mary');
        expect(prompt.clean.startsWith('Mary') || prompt.clean.startsWith('John')).toBe(false);
        // the corruption only swaps the subject's second mention
        const corruptedWords = prompt.corrupted.split(/[\s,.]+/);
        expect(corruptedWords.filter((word) => word === 'Mary')).toHaveLength(2);
        expect(corruptedWords.filter((word) => word === 'John')).toHaveLength(1);
        expect(corruptedWords).toHaveLength(words.length);
      }
    }
  });

  it('rejects equal names and names with spaces', () => {
    const filling = { order: 'ABBA', place: 'store', object: 'drink' } as const;
    expect(() =>
      renderIoiPrompt(template, { ...filling, indirectObject: 'Mary', subject: 'Mary' }),
    ).toThrow(InvalidArgumentError);
    expect(() =>
      renderIoiPrompt(template, { ...filling, indirectObject: 'Mary Ann', subject: 'John' }),
    ).toThrow(/indirectObject must be one word/);
  });
});
