import type { PatchResult } from '@patchlens/patching';

/** The sweeps the demo runs, by CLI name, in order. */
export const DEMO_SWEEPS = [
  'block_every',
  'attn_head_out_all_pos',
  'attn_head_all_pos_every',
  'attn_head_by_pos_every',
] as const;

/** One of {@link DEMO_SWEEPS}. */
export type DemoSweep = (typeof DEMO_SWEEPS)[number];

/** The sweeps of the CI smoke run: the cheap two. */
export const QUICK_SWEEPS: readonly DemoSweep[] = ['block_every', 'attn_head_out_all_pos'];

/** A result rescaled so 0 = the corrupted run and 1 = the clean run (for display). */
export interface NormalizedResult {
  readonly values: Float32Array;
  readonly shape: readonly number[];
  readonly axes: readonly string[];
  readonly labels?: Readonly<Record<string, readonly string[]>>;
}

/** `(value - corrupted) / (clean - corrupted)` of every value of a raw logit-difference result. */
export function normalizeResult(
  result: PatchResult,
  clean: number,
  corrupted: number,
): NormalizedResult {
  const values = result.values.map((value) => (value - corrupted) / (clean - corrupted));
  return {
    values,
    shape: result.shape,
    axes: result.axes,
    ...(result.labels === undefined ? {} : { labels: result.labels }),
  };
}

/** The index (one entry per axis) of the largest value. */
export function argmax(result: NormalizedResult): number[] {
  let best = 0;
  result.values.forEach((value, index) => {
    if (value > result.values[best]!) best = index;
  });
  const index: number[] = [];
  let rest = best;
  for (let axis = result.shape.length - 1; axis >= 0; axis--) {
    const size = result.shape[axis]!;
    index.unshift(rest % size);
    rest = Math.floor(rest / size);
  }
  return index;
}
