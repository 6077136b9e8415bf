import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import type { IoiTemplate } from './ioi-templates.js';

/**
 * Name order of the first mention: `ABBA` = indirect object first ("When Mary and John ...,
 * John gave ... to" -> Mary), `BABA` = subject first ("When John and Mary ..., John gave ... to" -> Mary).
 */
export type IoiOrder = 'ABBA' | 'BABA';

/** What fills a template's placeholders. */
export interface IoiFilling {
  /** The indirect object: the name mentioned once, and the answer (without the leading space). */
  readonly indirectObject: string;
  /** The subject: the name mentioned twice, and the wrong answer. */
  readonly subject: string;
  readonly order: IoiOrder;
  readonly place: string;
  readonly object: string;
}

/**
 * One IOI prompt with its name-swapped corruption.
 *
 * The corrupted prompt replaces the subject's second mention with the indirect object, so its
 * correct answer flips to the subject while the token length stays the same (the TransformerLens
 * IOI demo's corruption). Texts have no BOS; the tokenizer adds it.
 */
export interface IoiPrompt extends IoiFilling {
  readonly templateId: string;
  /** The clean prompt, e.g. `When Mary and John went to the store, John gave a drink to`. */
  readonly clean: string;
  /** The corrupted prompt, e.g. `When Mary and John went to the store, Mary gave a drink to`. */
  readonly corrupted: string;
  /** The clean prompt's answer token text, with its leading space (`" Mary"`). */
  readonly answer: string;
  /** The clean prompt's wrong answer token text (`" John"`): the corrupted prompt's answer. */
  readonly wrong: string;
}

const PLACEHOLDER = /\{(A|B|S|PLACE|OBJECT)\}/g;

function fill(pattern: string, values: Record<string, string>): string {
  return pattern.replace(PLACEHOLDER, (_match, key: string) => values[key] ?? '');
}

/**
 * Fill a template: the clean prompt, its name-swapped corruption and the answer/wrong tokens.
 *
 * @param template - the pattern (see {@link IoiTemplate}).
 * @param filling - names, order, place and object.
 * @returns the prompt pair and its labels.
 * @throws InvalidArgumentError when the two names are equal or a name contains a space.
 * @example
 * ```ts
 * const prompt = renderIoiPrompt(IOI_TRAINING_TEMPLATES[0]!, {
 *   indirectObject: 'Mary', subject: 'John', order: 'ABBA', place: 'store', object: 'drink',
 * });
 * prompt.clean; // 'When Mary and John went to the store, John gave a drink to'
 * prompt.answer; // ' Mary'
 * ```
 */
export function renderIoiPrompt(template: IoiTemplate, filling: IoiFilling): IoiPrompt {
  const { indirectObject, subject, order, place, object } = filling;
  if (indirectObject === subject) {
    throw new InvalidArgumentError(
      `renderIoiPrompt: indirectObject and subject must differ; both are "${subject}".`,
    );
  }
  for (const [argument, value] of Object.entries({ indirectObject, subject, place, object })) {
    if (value.length === 0 || /\s/.test(value)) {
      throw new InvalidArgumentError(
        `renderIoiPrompt: ${argument} must be one word without spaces; received "${value}".`,
      );
    }
  }
  const [first, second] = order === 'ABBA' ? [indirectObject, subject] : [subject, indirectObject];
  const shared = { A: first, B: second, PLACE: place, OBJECT: object };
  return {
    ...filling,
    templateId: template.id,
    clean: fill(template.pattern, { ...shared, S: subject }),
    corrupted: fill(template.pattern, { ...shared, S: indirectObject }),
    answer: ` ${indirectObject}`,
    wrong: ` ${subject}`,
  };
}
