import { PatchLensError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import { checkSweepShard, patchCost, shardIndices, shardRanges } from './sweep-shards.js';

/** A plain reference: every split point chosen by brute force over all contiguous splits. */
function bestMaxCost(costs: readonly number[], count: number): number {
  // smallest achievable maximum part cost over contiguous splits (binary-search free DP)
  const size = costs.length;
  const prefix = [0];
  for (const cost of costs) prefix.push(prefix.at(-1)! + cost);
  let best = new Array<number>(size + 1).fill(Number.POSITIVE_INFINITY);
  best[0] = 0;
  for (let part = 0; part < count; part++) {
    const next = new Array<number>(size + 1).fill(Number.POSITIVE_INFINITY);
    for (let end = 0; end <= size; end++) {
      for (let begin = 0; begin <= end; begin++) {
        next[end] = Math.min(next[end]!, Math.max(best[begin]!, prefix[end]! - prefix[begin]!));
      }
    }
    best = next;
  }
  return best[size]!;
}

/** Costs of a [layer, pos] sweep as the fast engine sees them. */
function layerPositionCosts(nLayers: number, positions: number): number[] {
  const costs: number[] = [];
  for (let layer = 0; layer < nLayers; layer++) {
    for (let pos = 0; pos < positions; pos++) costs.push(patchCost(layer, pos, nLayers, positions));
  }
  return costs;
}

describe('patchCost', () => {
  it('counts the block-positions a pass from the patched layer and position computes', () => {
    expect(patchCost(0, 0, 12, 16)).toBe(12 * 16);
    expect(patchCost(3, 5, 12, 16)).toBe(9 * 11);
    expect(patchCost(11, 15, 12, 16)).toBe(1);
  });
});

describe('shardRanges', () => {
  const cases: [string, number[]][] = [
    ['layer x pos, 4 x 6', layerPositionCosts(4, 6)],
    ['uniform, 10', new Array(10).fill(3)],
    ['one expensive index first', [100, 1, 1, 1, 1, 1, 1, 1]],
    ['zero-cost padding in the middle', [5, 5, 0, 0, 0, 5, 5, 5]],
    ['fewer indices than parts', [2, 1]],
  ];

  for (const [label, costs] of cases) {
    for (const count of [1, 2, 3, 7]) {
      it(`${label}, ${count} parts: contiguous, every index once, balanced`, () => {
        const ranges = shardRanges(costs, count);
        expect(ranges).toHaveLength(count);
        // contiguous cover of 0..size: each index in exactly one range
        const seen = new Array<number>(costs.length).fill(0);
        let expectedBegin = 0;
        for (const [begin, end] of ranges) {
          expect(begin).toBe(expectedBegin);
          expect(end).toBeGreaterThanOrEqual(begin);
          for (let index = begin; index < end; index++) seen[index]! += 1;
          expectedBegin = end;
        }
        expect(expectedBegin).toBe(costs.length);
        expect(seen.every((times) => times === 1)).toBe(true);
        // balance: no part exceeds the best contiguous split by more than the largest single cost
        const partCost = ranges.map(([begin, end]) =>
          costs.slice(begin, end).reduce((sum, cost) => sum + cost, 0),
        );
        expect(Math.max(...partCost)).toBeLessThanOrEqual(
          bestMaxCost(costs, count) + Math.max(...costs),
        );
        // deterministic
        expect(shardRanges(costs, count)).toEqual(ranges);
      });
    }
  }

  it('splits where the running cost is closest to each fraction of the total', () => {
    // total 12, half = 6: prefixes 4, 8 -> |4-6| = |8-6|, the tie goes to the earlier index
    expect(shardRanges([4, 4, 1, 1, 1, 1], 2)).toEqual([
      [0, 1],
      [1, 6],
    ]);
    // a layer x pos sweep: the early layers cost more, so part 0 holds fewer indices
    const ranges = shardRanges(layerPositionCosts(4, 6), 2);
    expect(ranges[0]![1]).toBeLessThan(12);
  });

  it('rejects bad counts and costs', () => {
    expect(() => shardRanges([1], 0)).toThrow(/count must be an integer >= 1, got 0/);
    expect(() => shardRanges([1, -1], 2)).toThrow(/non-negative integers, got -1 at index 1/);
  });
});

describe('shardIndices and checkSweepShard', () => {
  it('lists the flat indices of one part', () => {
    expect([...shardIndices([4, 4, 1, 1, 1, 1], { index: 1, count: 2 })]).toEqual([1, 2, 3, 4, 5]);
    expect([...shardIndices([1, 1], { index: 0, count: 1 })]).toEqual([0, 1]);
  });

  it.each([
    [{ index: 2, count: 2 }],
    [{ index: -1, count: 2 }],
    [{ index: 0, count: 0 }],
    [{ index: 0.5, count: 2 }],
    [null],
  ])('refuses %j with a PatchLensError saying what is accepted', (shard) => {
    expect(() => checkSweepShard('f', shard)).toThrow(/integers 0 <= index < count/);
    try {
      checkSweepShard('f', shard);
    } catch (error) {
      expect(PatchLensError.isInstance(error)).toBe(true);
    }
  });
});
