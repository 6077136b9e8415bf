import { type IoiTokenizer, ioiPromptTokens } from '../ioi/ioi-batch.js';
import { renderIoiPrompt } from '../ioi/ioi-prompt.js';
import type { IoiSplit } from '../ioi/ioi-splits.js';

/**
 * The tokens a training split can produce (BOS, every template word, place, object and name),
 * with a compact numbering: training runs on a `tokenIds.length`-row embedding instead of all
 * 50257 rows, and the trained rows are put back at their GPT-2 ids when the checkpoint is written.
 */
export interface TrainingVocabulary {
  /** GPT-2 token ids, ascending; compact id i stands for `tokenIds[i]`. */
  readonly tokenIds: readonly number[];
  /** GPT-2 id -> compact id. */
  readonly compactIdOf: ReadonlyMap<number, number>;
  /** Compact ids of the split's names (with their leading space). */
  readonly nameIds: readonly number[];
  /** Compact ids of the extra name stand-ins (see `pseudoNameTokens`). */
  readonly pseudoNameIds: readonly number[];
}

/**
 * Collect the tokens of a split: each template filled with every place, every object and one
 * name pair (every filler is one token, so this covers every prompt), plus every name.
 *
 * @param split - the split training samples from.
 * @param tokenizer - GPT-2's tokenizer.
 * @param pseudoNames - GPT-2 ids of extra name stand-ins to include (default none).
 * @example
 * ```ts
 * const vocabulary = trainingVocabulary(createIoiSplits().train, new GPT2Tokenizer());
 * vocabulary.tokenIds.length; // 236
 * ```
 */
export function trainingVocabulary(
  split: IoiSplit,
  tokenizer: IoiTokenizer,
  pseudoNames: readonly number[] = [],
): TrainingVocabulary {
  const names = [...new Set(split.pairs.flat())];
  const [first, second] = [names[0] as string, names[1] as string];
  const ids = new Set<number>([tokenizer.bosTokenId]);
  for (const template of split.templates) {
    const fillings = [
      ...split.places.map((place) => ({ place, object: split.objects[0] as string })),
      ...split.objects.map((object) => ({ place: split.places[0] as string, object })),
    ];
    for (const filling of fillings) {
      const prompt = renderIoiPrompt(template, {
        indirectObject: first,
        subject: second,
        order: 'ABBA',
        ...filling,
      });
      for (const id of ioiPromptTokens(tokenizer, prompt.clean)) ids.add(id);
    }
  }
  const nameTokens = names.map((name) => tokenizer.toSingleToken(` ${name}`));
  for (const id of [...nameTokens, ...pseudoNames]) ids.add(id);
  const tokenIds = [...ids].sort((a, b) => a - b);
  const compactIdOf = new Map(tokenIds.map((id, index) => [id, index]));
  return {
    tokenIds,
    compactIdOf,
    nameIds: nameTokens.map((id) => compactIdOf.get(id) as number),
    pseudoNameIds: pseudoNames.map((id) => compactIdOf.get(id) as number),
  };
}
