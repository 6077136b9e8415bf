import { TokenizationError } from '@patchlens/tensor-hooks';
import type { IoiTokenizer } from '../ioi/ioi-batch.js';

/** A word-level stand-in tokenizer for tests: one id per distinct space-led word, BOS = 0. */
export function wordTokenizer(): IoiTokenizer {
  const ids = new Map<string, number>();
  const id = (word: string) => {
    if (!ids.has(word)) ids.set(word, ids.size + 1);
    return ids.get(word)!;
  };
  const words = (text: string) => text.match(/ ?[^ ]+/g) ?? [];
  return {
    bosTokenId: 0,
    encode: (text) => words(text).map(id),
    toSingleToken: (text) => {
      const parts = words(text);
      if (parts.length !== 1) throw new TokenizationError(`not one token: "${text}"`);
      return id(parts[0]!);
    },
  };
}
