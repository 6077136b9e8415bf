import { SeededRandom } from '../ioi/seeded-random.js';

/**
 * Tokens that stand in for extra names during training: GPT-2 tokens that are one capitalised
 * word with a leading space (`" Boston"`, `" Harper"`, ...), minus `excluded`, `count` of them
 * chosen with `seed`. Their embeddings stay at their random initialisation, so they teach the
 * model to treat a never-trained token in a name slot as a name, which is what a name it never
 * saw looks like.
 *
 * @param tokenizer - decodes one token id (`GPT2Tokenizer` fits).
 * @param vocabularySize - number of token ids to scan (50257).
 * @param count - how many to return.
 * @param seed - which ones.
 * @param excluded - ids never chosen (the training and unseen names, the template words).
 * @returns ascending GPT-2 ids.
 * @example
 * ```ts
 * const ids = pseudoNameTokens(new GPT2Tokenizer(), 50257, 300, 3, new Set(nameIds));
 * ```
 */
export function pseudoNameTokens(
  tokenizer: { toStr(tokens: readonly number[]): string | string[] },
  vocabularySize: number,
  count: number,
  seed: number,
  excluded: ReadonlySet<number>,
): number[] {
  const candidates: number[] = [];
  for (let id = 0; id < vocabularySize; id++) {
    if (excluded.has(id)) continue;
    const text = tokenizer.toStr([id]);
    if (typeof text === 'string' && /^ [A-Z][a-z]{2,}$/.test(text)) candidates.push(id);
  }
  return new SeededRandom(seed)
    .shuffled(candidates)
    .slice(0, count)
    .sort((a, b) => a - b);
}
