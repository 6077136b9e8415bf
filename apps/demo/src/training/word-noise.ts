import type { SeededRandom } from '../ioi/seeded-random.js';

/**
 * Replace template words of a token row by random words, in place: each position except the
 * first (BOS), the last and the protected ones (names) is replaced with probability
 * `probability` by a token drawn uniformly from `pool`.
 *
 * @param row - token ids (any numbering); changed in place and returned.
 * @param protectedIds - ids never replaced (the names).
 * @param pool - replacement ids.
 * @param probability - chance of replacing each eligible position (0 leaves the row as it is).
 * @param random - the seeded generator (draws one number per eligible position, plus one per replacement).
 * @example
 * ```ts
 * addWordNoise([bos, when, mary, and, john, to], new Set([mary, john]), words, 0.1, random);
 * ```
 */
export function addWordNoise(
  row: number[],
  protectedIds: ReadonlySet<number>,
  pool: readonly number[],
  probability: number,
  random: SeededRandom,
): number[] {
  if (probability <= 0) return row;
  for (let position = 1; position < row.length - 1; position++) {
    if (protectedIds.has(row[position] as number)) continue;
    if (random.next() < probability) row[position] = random.pick(pool);
  }
  return row;
}
