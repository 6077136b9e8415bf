import {
  logitDiff,
  PATCHING_FUNCTION_NAMES,
  PATCHING_FUNCTIONS,
  type PatchingFunctionName,
  type PatchResult,
  preparePatching,
} from '@patchlens/patching';
import { AbortError, type HookedModel } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { DEMO_SWEEPS, QUICK_SWEEPS } from '../src/demo/demo-sweeps.js';
import type { PromptBatch } from './prompt-batch.js';

/**
 * Every sweep the app offers: the demo's four first, then the rest in TransformerLens's order.
 *
 * @example
 * ```ts
 * SWEEP_CHOICES.slice(0, 2); // ['block_every', 'attn_head_out_all_pos']
 * ```
 */
export const SWEEP_CHOICES: readonly PatchingFunctionName[] = [
  ...DEMO_SWEEPS,
  ...PATCHING_FUNCTION_NAMES.filter((name) => !(DEMO_SWEEPS as readonly string[]).includes(name)),
];

/**
 * The sweeps ticked when the page opens (the cheap two).
 *
 * @example
 * ```ts
 * box.checked = DEFAULT_SWEEPS.includes(sweep);
 * ```
 */
export const DEFAULT_SWEEPS: readonly PatchingFunctionName[] = QUICK_SWEEPS;

/**
 * Options of {@link runSweeps}.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const options: RunSweepsOptions = { signal: controller.signal, onProgress: (sweep, done, total) => console.log(sweep, done, total) };
 * ```
 */
export interface RunSweepsOptions {
  /** Called after each batch of patches: the sweep, patches done, patches in the sweep. */
  readonly onProgress?: (sweep: PatchingFunctionName, done: number, total: number) => void;
  /** Cancels the run between and inside sweeps (it rejects with AbortError). */
  readonly signal?: AbortSignal;
}

/**
 * What {@link runSweeps} measured: the logit differences, raw results and wall times.
 *
 * @example
 * ```ts
 * const run: SweepRun = await runSweeps(model, batch, ['block_every']);
 * console.log(run.clean, run.corrupted, run.milliseconds['block_every']);
 * ```
 */
export interface SweepRun {
  /** Logit difference (answer - wrong, last position, mean over prompts) of the clean run. */
  readonly clean: number;
  /** The same on the corrupted run. */
  readonly corrupted: number;
  /** Raw logit-difference results by sweep name, in run order. */
  readonly results: Readonly<Record<string, PatchResult>>;
  /** Milliseconds each sweep took, values read back included. */
  readonly milliseconds: Readonly<Record<string, number>>;
  /** Milliseconds of the clean run with its cache and the corrupted run. */
  readonly prepareMilliseconds: number;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError('runSweeps: the run was cancelled.');
}

/**
 * Runs patching sweeps on the active tfjs backend with a logit-difference metric: caches the clean
 * run, evaluates both runs, then runs each sweep (the library's fast engine) in order.
 *
 * @param model - the model (any {@link HookedModel}).
 * @param batch - token ids, see {@link PromptBatch}.
 * @param sweeps - sweep names from {@link SWEEP_CHOICES}.
 * @param options - progress callback and abort signal (default none).
 * @throws AbortError when `options.signal` aborts; the library's errors for bad input. Tensors are
 *   freed either way.
 * @example
 * ```ts
 * const run = await runSweeps(model, batch, ['block_every'], { onProgress: (s, d, t) => console.log(s, d, t) });
 * run.results['block_every']?.values; // Float32Array [3 * nLayers * pos]
 * ```
 */
export async function runSweeps(
  model: HookedModel,
  batch: PromptBatch,
  sweeps: readonly PatchingFunctionName[],
  options: RunSweepsOptions = {},
): Promise<SweepRun> {
  const { signal, onProgress } = options;
  const metric = logitDiff({ answers: [...batch.answers], wrong: [...batch.wrong] });
  const positions = batch.clean[0]?.length ?? 0;
  const cleanTokens = tf.tensor2d(batch.clean.flat(), [batch.clean.length, positions], 'int32');
  const corruptedTokens = tf.tensor2d(
    batch.corrupted.flat(),
    [batch.corrupted.length, positions],
    'int32',
  );
  try {
    throwIfAborted(signal);
    const prepareStart = performance.now();
    using prepared = await preparePatching(model, cleanTokens, corruptedTokens, metric);
    const prepareMilliseconds = performance.now() - prepareStart;
    const results: Record<string, PatchResult> = {};
    const milliseconds: Record<string, number> = {};
    for (const sweep of sweeps) {
      throwIfAborted(signal);
      const started = performance.now();
      results[sweep] = await PATCHING_FUNCTIONS[sweep](
        model,
        corruptedTokens,
        prepared.cleanCache,
        metric,
        {
          onProgress: (done, total) => onProgress?.(sweep, done, total),
          ...(signal ? { signal } : {}),
        },
      );
      milliseconds[sweep] = performance.now() - started;
    }
    return {
      clean: prepared.clean,
      corrupted: prepared.corrupted,
      results,
      milliseconds,
      prepareMilliseconds,
    };
  } finally {
    cleanTokens.dispose();
    corruptedTokens.dispose();
  }
}
