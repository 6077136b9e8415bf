import { GPT2Tokenizer } from '@patchlens/models-gpt2';
import { describe, expect, it } from 'vitest';
import { buildIoiBatch } from './ioi-batch.js';
import { renderIoiPrompt } from './ioi-prompt.js';
import { IOI_HELD_OUT_TEMPLATES, IOI_TRAINING_TEMPLATES } from './ioi-templates.js';
import { IOI_OBJECTS, IOI_PLACES, IOI_TRAINING_NAMES, IOI_UNSEEN_NAMES } from './ioi-vocabulary.js';

describe('IOI words with GPT-2 tokenizer (r50k_base)', () => {
  const tokenizer = new GPT2Tokenizer();

  it.each([
    ['training names', IOI_TRAINING_NAMES],
    ['unseen names', IOI_UNSEEN_NAMES],
    ['places', IOI_PLACES],
    ['objects', IOI_OBJECTS],
  ])('every one of the %s is one token with its leading space', (_, words) => {
    for (const word of words) expect(tokenizer.encode(` ${word}`)).toHaveLength(1);
  });

  it('gives clean and corrupted prompts of equal length in every template, 24 tokens at most', () => {
    for (const template of [...IOI_TRAINING_TEMPLATES, ...IOI_HELD_OUT_TEMPLATES]) {
      const prompts = IOI_PLACES.map((place, index) =>
        renderIoiPrompt(template, {
          indirectObject: IOI_TRAINING_NAMES[index]!,
          subject: IOI_UNSEEN_NAMES[index]!,
          order: index % 2 === 0 ? 'ABBA' : 'BABA',
          place,
          object: IOI_OBJECTS[index]!,
        }),
      );
      const batch = buildIoiBatch(prompts, tokenizer);
      expect(batch.clean[0]!.length).toBeLessThanOrEqual(24);
      expect(batch.answerTokens[0]).toBe(tokenizer.toSingleToken(` ${IOI_TRAINING_NAMES[0]}`));
    }
  });
});
