import type { PatchResultLike } from '../patch-result.js';

/** The IOI prompt of TransformerLens's demos, GPT-2 tokens with BOS (15 positions). */
export const IOI_TOKENS: readonly string[] = [
  '<|endoftext|>',
  'When',
  ' John',
  ' and',
  ' Mary',
  ' went',
  ' to',
  ' the',
  ' shops',
  ',',
  ' John',
  ' gave',
  ' the',
  ' bag',
  ' to',
];

const FILLER: readonly string[] = [
  ' After',
  ' lunch',
  ',',
  ' Mary',
  ' and',
  ' John',
  ' walked',
  ' to',
  ' the',
  ' extraordinarily',
  ' crowded',
  ' market',
  '.',
  '\n',
  'Then',
  ' John',
  ' handed',
  ' a',
  ' <b>&</b>',
  ' to',
];

/** `count` tokens: BOS, then a prompt-like mix with repeats, long tokens, a newline and markup characters. */
export function longTokens(count: number): string[] {
  const tokens = ['<|endoftext|>'];
  for (let i = 0; tokens.length < count; i++) tokens.push(FILLER[i % FILLER.length]!);
  return tokens;
}

/** Deterministic values in about [-3, 3] with some structure (so figures are not uniform). */
export function patternValue(flat: number): number {
  return 3 * Math.sin(flat * 0.37) * Math.cos(flat * 0.011);
}

/** A dense result with `patternValue` values; `nanAt` lists flat indices set to NaN. */
export function syntheticResult(
  axes: readonly string[],
  shape: readonly number[],
  options: { nanAt?: readonly number[]; labels?: Record<string, readonly string[]> } = {},
): PatchResultLike {
  const count = shape.reduce((product, size) => product * size, 1);
  const values = new Float32Array(count);
  for (let flat = 0; flat < count; flat++) values[flat] = patternValue(flat);
  for (const flat of options.nanAt ?? []) values[flat] = Number.NaN;
  return options.labels !== undefined
    ? { values, shape, axes, labels: options.labels }
    : { values, shape, axes };
}

/** A causal softmax attention pattern [head, dest, src] with distinct heads. */
export function syntheticPattern(heads: number, positions: number): Float32Array {
  const values = new Float32Array(heads * positions * positions);
  for (let head = 0; head < heads; head++) {
    for (let dest = 0; dest < positions; dest++) {
      let total = 0;
      const base = (head * positions + dest) * positions;
      for (let src = 0; src <= dest; src++) {
        // head h prefers tokens h back (previous-token heads, induction-like stripes)
        const score = -Math.abs(dest - src - (head % 4)) * (1 + head * 0.3);
        values[base + src] = Math.exp(score);
        total += values[base + src]!;
      }
      for (let src = 0; src <= dest; src++) values[base + src] = values[base + src]! / total;
    }
  }
  return values;
}
