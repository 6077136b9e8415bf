import { buildIoiBatch, type IoiBatch, type IoiTokenizer } from '../ioi/ioi-batch.js';
import type { IoiPrompt } from '../ioi/ioi-prompt.js';
import { createIoiSplits, sampleIoiPrompts } from '../ioi/ioi-splits.js';
import { IOI_HELD_OUT_TEMPLATES } from '../ioi/ioi-templates.js';

/**
 * IOI prompts the bundled model never saw: one held-out template (so every prompt has the same
 * token length) filled with held-out name pairs, places and objects.
 *
 * @param tokenizer - the model's tokenizer.
 * @param count - number of prompts (default 8).
 */
export function heldOutIoiBatch(tokenizer: IoiTokenizer, count = 8): IoiBatch {
  const template = IOI_HELD_OUT_TEMPLATES[0];
  if (!template) throw new Error('heldOutIoiBatch: there is no held-out template.');
  const split = { ...createIoiSplits().heldOut, templates: [template] };
  return buildIoiBatch(sampleIoiPrompts(split, count, 2026), tokenizer);
}

// The prompts of TransformerLens's IOI demos: four sentence frames, each with the two name
// orders; the corrupted prompt of each is its partner with the names swapped.
const TRANSFORMER_LENS_FRAMES = [
  { frame: 'When John and Mary went to the shops,{} gave the bag to', names: ['Mary', 'John'] },
  { frame: 'When Tom and James went to the park,{} gave the ball to', names: ['Tom', 'James'] },
  { frame: 'When Dan and Sid went to the shops,{} gave an apple to', names: ['Dan', 'Sid'] },
  { frame: 'After Martin and Amy went to the park,{} gave a drink to', names: ['Martin', 'Amy'] },
] as const;

/**
 * TransformerLens's IOI demo batch (8 prompts) for any model with GPT-2's vocabulary: prompt
 * `2i + j` has answer `names[j]` and the subject `names[1 - j]` repeated; its corruption is the
 * other prompt of the same frame.
 */
export function transformerLensIoiBatch(tokenizer: IoiTokenizer): IoiBatch {
  const prompts: IoiPrompt[] = [];
  for (const { frame, names } of TRANSFORMER_LENS_FRAMES) {
    for (const j of [0, 1] as const) {
      const answer = names[j];
      const subject = names[1 - j]!;
      prompts.push({
        templateId: 'transformer-lens',
        indirectObject: answer,
        subject,
        // ABBA when the indirect object is named first in the frame.
        order: frame.indexOf(answer) < frame.indexOf(subject) ? 'ABBA' : 'BABA',
        place: frame.includes('park') ? 'park' : 'shops',
        object: '',
        clean: frame.replace('{}', ` ${subject}`),
        corrupted: frame.replace('{}', ` ${answer}`),
        answer: ` ${answer}`,
        wrong: ` ${subject}`,
      });
    }
  }
  return buildIoiBatch(prompts, tokenizer);
}
