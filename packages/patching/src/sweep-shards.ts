import { InvalidArgumentError } from '@patchlens/tensor-hooks';

/**
 * One part of a sweep split into `count` parts: part `index` (0-based) of `count`.
 *
 * @example
 * ```ts
 * const shard: SweepShard = { index: 2, count: 7 }; // the third of seven parts
 * await getActPatchResidPre(model, corruptedTokens, cleanCache, metric, { shard });
 * ```
 */
export interface SweepShard {
  /** Which part, 0 <= index < count. */
  readonly index: number;
  /** How many parts the sweep is split into (>= 1). */
  readonly count: number;
}

/**
 * Checks a shard: integers with `0 <= index < count`.
 *
 * @throws InvalidArgumentError naming what was received and what is accepted.
 */
export function checkSweepShard(functionName: string, shard: unknown): SweepShard {
  const candidate = shard as Partial<SweepShard> | null;
  const valid =
    typeof candidate === 'object' &&
    candidate !== null &&
    Number.isInteger(candidate.count) &&
    Number.isInteger(candidate.index) &&
    candidate.count! >= 1 &&
    candidate.index! >= 0 &&
    candidate.index! < candidate.count!;
  if (!valid) {
    throw new InvalidArgumentError(
      `${functionName}: shard must be { index, count } with integers 0 <= index < count, got ${JSON.stringify(shard)}.`,
    );
  }
  return { index: candidate.index!, count: candidate.count! };
}

/**
 * The estimated cost of one patch: the fast engine starts its forward pass at the patched layer and
 * (with causal attention) at the first position the patch changes, so a patch computes about
 * `(nLayers - layer) × (positions - firstPosition)` block-positions.
 *
 * @example
 * ```ts
 * patchCost(0, 0, 12, 16); // 192: a patch at layer 0, position 0 runs the whole model
 * patchCost(11, 15, 12, 16); // 1: last layer, last position
 * ```
 */
export function patchCost(
  layer: number,
  firstPosition: number,
  nLayers: number,
  positions: number,
): number {
  return Math.max(1, nLayers - layer) * Math.max(1, positions - firstPosition);
}

/**
 * Splits flat indices `0..costs.length-1` into `count` contiguous ranges of about equal total cost:
 * range `i` ends where the running cost is closest to `(i+1)/count` of the total (ties: the earlier
 * index). Deterministic (integer arithmetic on the costs), every index in exactly one range; a range
 * may be empty when there are fewer indices than parts. Contiguous ranges keep the patches of one
 * layer and neighbouring positions together, so a part's batches look like the full run's.
 *
 * @param costs - non-negative integer cost per flat index (e.g. from {@link patchCost}; 0 for
 *   indices that need no forward pass, such as zero padding).
 * @param count - number of parts (>= 1).
 * @returns `count` `[begin, end)` ranges, in order, covering `0..costs.length`.
 * @example
 * ```ts
 * shardRanges([4, 4, 1, 1, 1, 1], 2); // [[0, 1], [1, 6]]: costs 4 and 8 (the closest split)
 * ```
 */
export function shardRanges(costs: ArrayLike<number>, count: number): [number, number][] {
  if (!Number.isInteger(count) || count < 1) {
    throw new InvalidArgumentError(`shardRanges: count must be an integer >= 1, got ${count}.`);
  }
  const size = costs.length;
  const prefix = new Array<number>(size + 1);
  prefix[0] = 0;
  for (let index = 0; index < size; index++) {
    const cost = costs[index]!;
    if (!Number.isInteger(cost) || cost < 0) {
      throw new InvalidArgumentError(
        `shardRanges: costs must be non-negative integers, got ${cost} at index ${index}.`,
      );
    }
    prefix[index + 1] = prefix[index]! + cost;
  }
  const total = prefix[size]!;
  const ranges: [number, number][] = [];
  let begin = 0;
  for (let part = 0; part < count; part++) {
    let end = size;
    if (part < count - 1) {
      // Target (part+1)/count of the total; compare prefix×count with (part+1)×total (exact integers).
      const target = (part + 1) * (total === 0 ? size : total);
      const at = (index: number) => (total === 0 ? index : prefix[index]!) * count;
      end = begin;
      while (end < size && at(end + 1) <= target) end++;
      if (end < size && Math.abs(at(end + 1) - target) < Math.abs(at(end) - target)) end++;
    }
    ranges.push([begin, end]);
    begin = end;
  }
  return ranges;
}

/**
 * The flat indices of one shard of a sweep whose patches cost `costs` (see {@link shardRanges}).
 *
 * @example
 * ```ts
 * shardIndices([4, 4, 1, 1, 1, 1], { index: 1, count: 2 }); // Int32Array [1, 2, 3, 4, 5]
 * ```
 */
export function shardIndices(costs: ArrayLike<number>, shard: SweepShard): Int32Array {
  const { index, count } = checkSweepShard('shardIndices', shard);
  const [begin, end] = shardRanges(costs, count)[index]!;
  const indices = new Int32Array(end - begin);
  for (let offset = 0; offset < indices.length; offset++) indices[offset] = begin + offset;
  return indices;
}
