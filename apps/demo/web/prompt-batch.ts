import { TokenizationError } from '@patchlens/tensor-hooks';
import type { IoiBatch, IoiTokenizer } from '../src/ioi/ioi-batch.js';
import { ioiPromptTokens } from '../src/ioi/ioi-batch.js';

/**
 * The prompt form's four fields: one prompt (or answer) per line.
 *
 * @example
 * ```ts
 * const text: PromptText = { clean: 'When John and Mary went to the shops, John gave the bag to', corrupted: 'When John and Mary went to the shops, Mary gave the bag to', answers: ' Mary', wrong: ' John' };
 * ```
 */
export interface PromptText {
  readonly clean: string;
  readonly corrupted: string;
  /** One answer per prompt, or one for every prompt. A leading space is part of the token (` Mary`). */
  readonly answers: string;
  /** One wrong answer per prompt, or one for every prompt. */
  readonly wrong: string;
}

/**
 * Token ids of a batch of clean/corrupted prompt pairs, ready for `tf.tensor2d(..., 'int32')`.
 *
 * @example
 * ```ts
 * const batch: PromptBatch = promptBatchFromText(model.tokenizer, text);
 * const clean = tf.tensor2d(batch.clean.flat(), [batch.clean.length, batch.clean[0]!.length], 'int32');
 * ```
 */
export interface PromptBatch {
  /** `[batch][pos]`, BOS first; all rows the same length. */
  readonly clean: readonly (readonly number[])[];
  /** `[batch][pos]`, the same shape as `clean`. */
  readonly corrupted: readonly (readonly number[])[];
  /** One answer token per prompt. */
  readonly answers: readonly number[];
  /** One wrong-answer token per prompt. */
  readonly wrong: readonly number[];
}

/** Non-empty lines; a line's spaces are kept (a leading space belongs to a GPT-2 token). */
function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '');
}

function singleTokens(
  tokenizer: IoiTokenizer,
  field: string,
  text: string,
  prompts: number,
): number[] {
  const entries = lines(text);
  if (entries.length !== 1 && entries.length !== prompts) {
    throw new TokenizationError(
      `promptBatchFromText: ${field} has ${entries.length} lines; give one per prompt (${prompts}) or one for all.`,
    );
  }
  const ids = entries.map((entry) => tokenizer.toSingleToken(entry));
  return entries.length === 1 ? new Array<number>(prompts).fill(ids[0]!) : ids;
}

/**
 * Tokenizes the prompt form: BOS + text for every clean and corrupted line, and one token per
 * answer and wrong answer.
 *
 * @param tokenizer - the model's tokenizer (`model.tokenizer`).
 * @param text - the form's fields, see {@link PromptText}.
 * @throws TokenizationError when there are no prompts, the clean and corrupted lines differ in
 *   number, a pair or two prompts differ in token length, or an answer is not one token.
 * @example
 * ```ts
 * const batch = promptBatchFromText(model.tokenizer, {
 *   clean: 'When John and Mary went to the shops, John gave the bag to',
 *   corrupted: 'When John and Mary went to the shops, Mary gave the bag to',
 *   answers: ' Mary',
 *   wrong: ' John',
 * });
 * ```
 */
export function promptBatchFromText(tokenizer: IoiTokenizer, text: PromptText): PromptBatch {
  const cleanLines = lines(text.clean);
  const corruptedLines = lines(text.corrupted);
  if (cleanLines.length === 0) {
    throw new TokenizationError(
      'promptBatchFromText: there are no clean prompts; write one per line.',
    );
  }
  if (cleanLines.length !== corruptedLines.length) {
    throw new TokenizationError(
      `promptBatchFromText: ${cleanLines.length} clean prompts but ${corruptedLines.length} corrupted prompts; give one corrupted prompt per clean prompt.`,
    );
  }
  const clean = cleanLines.map((line) => ioiPromptTokens(tokenizer, line));
  const corrupted = corruptedLines.map((line) => ioiPromptTokens(tokenizer, line));
  const length = clean[0]!.length;
  // prompts are numbered from 1, as the lines of the form
  clean.forEach((row, index) => {
    const pair = corrupted[index]!;
    if (row.length !== pair.length) {
      throw new TokenizationError(
        `promptBatchFromText: prompt ${index + 1} has ${row.length} tokens in its clean line but ${pair.length} in its corrupted line (BOS included); a clean prompt and its corruption need the same number of tokens (e.g. swap names that are one token each).`,
      );
    }
    if (row.length !== length) {
      throw new TokenizationError(
        `promptBatchFromText: prompt ${index + 1} has ${row.length} tokens but prompt 1 has ${length} (BOS included); every prompt of a batch needs the same number of tokens.`,
      );
    }
  });
  return {
    clean,
    corrupted,
    answers: singleTokens(tokenizer, 'answers', text.answers, clean.length),
    wrong: singleTokens(tokenizer, 'wrong answers', text.wrong, clean.length),
  };
}

/**
 * The form's text for an IOI batch (e.g. `heldOutIoiBatch(tokenizer, 8)`): one line per prompt.
 *
 * @example
 * ```ts
 * const text = ioiBatchText(heldOutIoiBatch(model.tokenizer, 4)); // text.clean has 4 lines
 * ```
 */
export function ioiBatchText(batch: IoiBatch): PromptText {
  const join = (pick: (prompt: IoiBatch['prompts'][number]) => string) =>
    batch.prompts.map(pick).join('\n');
  return {
    clean: join((prompt) => prompt.clean),
    corrupted: join((prompt) => prompt.corrupted),
    answers: join((prompt) => prompt.answer),
    wrong: join((prompt) => prompt.wrong),
  };
}
