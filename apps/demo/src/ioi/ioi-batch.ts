import { TokenizationError } from '@patchlens/tensor-hooks';
import type { IoiPrompt } from './ioi-prompt.js';

/**
 * What {@link buildIoiBatch} needs from a tokenizer; `GPT2Tokenizer` of `@patchlens/models-gpt2`
 * fits. Prompts get BOS prepended, as TransformerLens's `to_tokens` does.
 */
export interface IoiTokenizer {
  /** The id put first in every prompt (GPT-2: `<|endoftext|>`, 50256). */
  readonly bosTokenId: number;
  /** Token ids of a text, without BOS. */
  encode(text: string): readonly number[];
  /** The id of a text that must be exactly one token; throws otherwise. */
  toSingleToken(text: string): number;
}

/**
 * Token ids of a prompt as the model sees it: BOS, then the text's tokens.
 *
 * @example
 * ```ts
 * ioiPromptTokens(new GPT2Tokenizer(), 'When Mary and John'); // [50256, 2215, 5335, 290, 1757]
 * ```
 */
export function ioiPromptTokens(tokenizer: IoiTokenizer, text: string): number[] {
  return [tokenizer.bosTokenId, ...tokenizer.encode(text)];
}

/** Token ids of IOI prompt pairs, ready to become `[batch, pos]` int32 tensors. */
export interface IoiBatch {
  readonly prompts: readonly IoiPrompt[];
  /** Clean prompts, `[batch][pos]`, BOS first; all rows have the same length. */
  readonly clean: readonly (readonly number[])[];
  /** Name-swapped corrupted prompts, `[batch][pos]`, same length as `clean`. */
  readonly corrupted: readonly (readonly number[])[];
  /** The clean answer (indirect object) token per prompt. */
  readonly answerTokens: readonly number[];
  /** The wrong answer (subject) token per prompt: the corrupted prompts' answer. */
  readonly wrongTokens: readonly number[];
}

function describe(tokens: readonly number[]): string {
  return `${tokens.length} tokens [${tokens.join(', ')}]`;
}

/**
 * Tokenize IOI prompts into a rectangular batch: clean and corrupted token rows plus the answer
 * and wrong token per prompt (for a logit-difference metric).
 *
 * @param prompts - prompts of equal token length (e.g. all from one template; see
 *   {@link groupIoiPromptsByLength} for mixed templates).
 * @param tokenizer - e.g. `new GPT2Tokenizer()` from `@patchlens/models-gpt2`.
 * @returns the batch; row b belongs to `prompts[b]`.
 * @throws TokenizationError when a prompt's clean and corrupted token lengths differ, when prompts
 *   have different lengths, or when an answer is not a single token.
 * @example
 * ```ts
 * const prompts = sampleIoiPrompts({ ...createIoiSplits().heldOut, templates: [IOI_HELD_OUT_TEMPLATES[0]!] }, 8, 1);
 * const batch = buildIoiBatch(prompts, tokenizer);
 * const clean = tf.tensor2d(batch.clean.flat(), [batch.clean.length, batch.clean[0]!.length], 'int32');
 * ```
 */
export function buildIoiBatch(prompts: readonly IoiPrompt[], tokenizer: IoiTokenizer): IoiBatch {
  const clean: number[][] = [];
  const corrupted: number[][] = [];
  for (const prompt of prompts) {
    const cleanTokens = ioiPromptTokens(tokenizer, prompt.clean);
    const corruptedTokens = ioiPromptTokens(tokenizer, prompt.corrupted);
    if (cleanTokens.length !== corruptedTokens.length) {
      throw new TokenizationError(
        `buildIoiBatch: clean prompt "${prompt.clean}" is ${describe(cleanTokens)} but corrupted prompt "${prompt.corrupted}" is ${describe(corruptedTokens)}; use names that are one token each.`,
      );
    }
    const first = clean[0];
    if (first !== undefined && first.length !== cleanTokens.length) {
      throw new TokenizationError(
        `buildIoiBatch: prompts have different token lengths (${first.length} for "${prompts[0]?.clean}", ${cleanTokens.length} for "${prompt.clean}"); batch prompts of one template or group them with groupIoiPromptsByLength.`,
      );
    }
    clean.push(cleanTokens);
    corrupted.push(corruptedTokens);
  }
  return {
    prompts,
    clean,
    corrupted,
    answerTokens: prompts.map((prompt) => tokenizer.toSingleToken(prompt.answer)),
    wrongTokens: prompts.map((prompt) => tokenizer.toSingleToken(prompt.wrong)),
  };
}

/**
 * Split prompts into groups of equal token length (prompts from different templates differ),
 * keeping their order within each group; each group can go to {@link buildIoiBatch}.
 *
 * @param prompts - any IOI prompts.
 * @param tokenizer - the tokenizer that decides the lengths.
 * @returns groups in order of first appearance, with the token length of each.
 * @example
 * ```ts
 * for (const group of groupIoiPromptsByLength(prompts, tokenizer)) {
 *   const batch = buildIoiBatch(group.prompts, tokenizer);
 * }
 * ```
 */
export function groupIoiPromptsByLength(
  prompts: readonly IoiPrompt[],
  tokenizer: IoiTokenizer,
): { readonly length: number; readonly prompts: IoiPrompt[] }[] {
  const groups = new Map<number, IoiPrompt[]>();
  for (const prompt of prompts) {
    const length = ioiPromptTokens(tokenizer, prompt.clean).length;
    const group = groups.get(length);
    if (group) group.push(prompt);
    else groups.set(length, [prompt]);
  }
  return [...groups].map(([length, members]) => ({ length, prompts: members }));
}
