import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { PatchResult } from './patch-result.js';

/**
 * Options of {@link mergePatchResults}.
 *
 * @example
 * ```ts
 * mergePatchResults(parts, { names: ['shard-0.json', 'shard-1.json'] });
 * ```
 */
export interface MergePatchResultsOptions {
  /** A name per part for messages (e.g. its file); default `part 0`, `part 1`, … */
  readonly names?: readonly string[];
}

function sameList(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Joins the parts of a sharded sweep (results of the `shard` option, in any order) into the full
 * result: every part must come from the same sweep (axes, shape, labels), the parts must be shards
 * `0..count-1` of one `count`, each exactly once, and their indices must cover every flat index
 * exactly once. `ms` is the sum of the parts' times (the compute time, not the wall time of a
 * parallel run).
 *
 * @param parts - the shard results.
 * @param options.names - names for the parts in messages (default `part i`).
 * @throws InvalidArgumentError naming the parts at fault: no parts, a part without `shard`,
 *   different sweeps or counts, a missing or duplicated shard, overlapping or missing indices.
 * @example
 * ```ts
 * const parts = await Promise.all([0, 1, 2].map((index) =>
 *   getActPatchResidPre(model, corruptedTokens, cleanCache, metric, { shard: { index, count: 3 } })));
 * const full = mergePatchResults(parts); // equal to the unsharded sweep
 * ```
 */
export function mergePatchResults(
  parts: readonly PatchResult[],
  options: MergePatchResultsOptions = {},
): PatchResult {
  const name = (part: number) => options.names?.[part] ?? `part ${part}`;
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new InvalidArgumentError(
      'mergePatchResults: give at least one part (results of a sweep run with the shard option).',
    );
  }
  parts.forEach((part, position) => {
    if (!(part instanceof PatchResult) || part.shard === undefined) {
      throw new InvalidArgumentError(
        `mergePatchResults: ${name(position)} is not a shard of a sweep (a PatchResult from a sweep run with { shard: { index, count } }).`,
      );
    }
  });
  const first = parts[0]!;
  const count = first.shard!.count;
  parts.forEach((part, position) => {
    const differs = !sameList(part.axes, first.axes)
      ? `axes [${part.axes}] vs [${first.axes}]`
      : !sameList(part.shape, first.shape)
        ? `shape [${part.shape}] vs [${first.shape}]`
        : JSON.stringify(part.labels) !== JSON.stringify(first.labels)
          ? 'labels'
          : part.shard!.count !== count
            ? `a split into ${part.shard!.count} shards vs ${count}`
            : undefined;
    if (differs !== undefined) {
      throw new InvalidArgumentError(
        `mergePatchResults: ${name(position)} and ${name(0)} are not parts of the same sweep (${differs}); merge only the shards of one run.`,
      );
    }
  });
  const byShard = new Map<number, number>();
  parts.forEach((part, position) => {
    const previous = byShard.get(part.shard!.index);
    if (previous !== undefined) {
      throw new InvalidArgumentError(
        `mergePatchResults: shard ${part.shard!.index}/${count} is given twice (${name(previous)} and ${name(position)}); give each shard once.`,
      );
    }
    byShard.set(part.shard!.index, position);
  });
  const missing = [...Array(count).keys()].filter((index) => !byShard.has(index));
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      `mergePatchResults: shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing (got ${parts.map((part, position) => `${name(position)} = shard ${part.shard!.index}`).join(', ')}); give all ${count} shards.`,
    );
  }
  const size = first.values.length;
  const owner = new Int32Array(size).fill(-1);
  const values = new Float32Array(size);
  let ms = 0;
  parts.forEach((part, position) => {
    for (const flat of part.shard!.indices) {
      if (owner[flat] !== -1) {
        throw new InvalidArgumentError(
          `mergePatchResults: ${name(owner[flat]!)} and ${name(position)} both hold flat index ${flat}; the shards of one run never overlap, so these are from different splits.`,
        );
      }
      owner[flat] = position;
      values[flat] = part.values[flat]!;
    }
    ms += part.ms ?? 0;
  });
  const uncovered = owner.indexOf(-1);
  if (uncovered !== -1) {
    throw new InvalidArgumentError(
      `mergePatchResults: no part holds flat index ${uncovered} (of ${size}); the parts are from different splits or one was cut short.`,
    );
  }
  return new PatchResult({
    values,
    shape: first.shape,
    axes: first.axes,
    ...(first.labels ? { labels: first.labels } : {}),
    ...(first.indexTable ? { indexTable: first.indexTable } : {}),
    ms,
  });
}
