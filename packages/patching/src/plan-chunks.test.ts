import { describe, expect, it } from 'vitest';
import { planChunks } from './fast-engine.js';

/**
 * The documented cost of a split: each batch costs one replica's full pass of fixed overhead
 * (`positions`) plus `replicas × (positions - start)`, where a batch of patches sorted by start
 * position starts at its first patch's position.
 */
function cost(
  ranges: readonly (readonly [number, number])[],
  starts: readonly number[],
  positions: number,
) {
  return ranges.reduce(
    (total, [begin, end]) => total + positions + (end - begin) * (positions - starts[begin]!),
    0,
  );
}

/** Every split of `count` patches into consecutive batches of 1..perForward (by brute force). */
function everySplit(count: number, perForward: number): [number, number][][] {
  if (count === 0) return [[]];
  const splits: [number, number][][] = [];
  for (let size = 1; size <= Math.min(perForward, count); size++) {
    for (const rest of everySplit(count - size, perForward)) {
      splits.push([[0, size], ...rest.map(([b, e]) => [b + size, e + size] as [number, number])]);
    }
  }
  return splits;
}

/** Every non-decreasing sequence of `length` starts in 0..positions-1. */
function sortedStarts(length: number, positions: number, from = 0): number[][] {
  if (length === 0) return [[]];
  const sequences: number[][] = [];
  for (let first = from; first < positions; first++) {
    for (const rest of sortedStarts(length - 1, positions, first)) sequences.push([first, ...rest]);
  }
  return sequences;
}

describe('planChunks against every split (brute force, n <= 8)', () => {
  it('returns a valid split of least cost for every sorted start list, batch limit and n <= 8', () => {
    const positions = 5;
    let checked = 0;
    for (let count = 1; count <= 8; count++) {
      for (let perForward = 1; perForward <= count + 1; perForward++) {
        const splits = everySplit(count, perForward);
        for (const starts of sortedStarts(count, positions)) {
          const least = Math.min(...splits.map((split) => cost(split, starts, positions)));
          const planned = planChunks(starts, perForward, positions);
          // a split: consecutive, non-empty batches of at most perForward covering 0..count
          const valid =
            planned[0]?.[0] === 0 &&
            planned.at(-1)?.[1] === count &&
            planned.every(
              ([begin, end], entry) =>
                end > begin &&
                end - begin <= perForward &&
                (entry === 0 || begin === planned[entry - 1]![1]),
            );
          const plannedCost = cost(planned, starts, positions);
          if (!valid || plannedCost !== least) {
            expect.fail(
              `starts [${starts}], K ${perForward}: planChunks gave ${JSON.stringify(planned)} (${valid ? `cost ${plannedCost}` : 'not a split'}), the best split costs ${least}`,
            );
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
