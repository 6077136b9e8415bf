import type { ActivationCacheLike, HookedModel, HookName } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Logit difference computed by hand from full logits `[batch, pos, vocab]`: mean over b of
 * `logits[b, last, answers[b]] - logits[b, last, wrong[b]]` (plain loops, no tf ops).
 */
export function handLogitDiff(
  logits: tf.Tensor,
  answers: readonly number[],
  wrong: readonly number[],
): number {
  const [batch, positions, vocab] = logits.shape as [number, number, number];
  const data = logits.dataSync();
  let sum = 0;
  for (let b = 0; b < batch; b++) {
    const base = (b * positions + positions - 1) * vocab;
    sum += data[base + answers[b]!]! - data[base + wrong[b]!]!;
  }
  return sum / batch;
}

/**
 * One patch written by hand: a hook that copies, element by element in plain JS, the clean
 * activation into the corrupted one wherever every `fixed` axis equals its value; then the model's
 * full logits through {@link handLogitDiff}. Independent of the engines' masks and `where`.
 * With `fraction` f other than 1, the hook moves the patched entries only part of the way:
 * `a + f * (clean - a)` (a nudge along the patch direction, for finite differences).
 */
export function handPatchedLogitDiff(
  model: HookedModel,
  corruptedTokens: tf.Tensor,
  cleanCache: ActivationCacheLike,
  hookName: HookName,
  fixed: Readonly<Record<number, number>>,
  answers: readonly number[],
  wrong: readonly number[],
  fraction = 1,
): number {
  const clean = cleanCache.get(hookName).dataSync();
  const hook = (activation: tf.Tensor) => {
    const shape = activation.shape;
    const data = Float32Array.from(activation.dataSync());
    const strides = shape.map((_, axis) =>
      shape.slice(axis + 1).reduce((product, size) => product * size, 1),
    );
    for (let flat = 0; flat < data.length; flat++) {
      let matches = true;
      for (const [axis, value] of Object.entries(fixed)) {
        const a = Number(axis);
        if (Math.floor(flat / strides[a]!) % shape[a]! !== value) {
          matches = false;
          break;
        }
      }
      if (matches) {
        data[flat] =
          fraction === 1 ? clean[flat]! : data[flat]! + fraction * (clean[flat]! - data[flat]!);
      }
    }
    return tf.tensor(data, shape);
  };
  const logits = model.runWithHooks(corruptedTokens, [[hookName, hook]]);
  try {
    return handLogitDiff(logits, answers, wrong);
  } finally {
    logits.dispose();
  }
}

/** Plain logit difference of an unpatched run. */
export function handUnpatchedLogitDiff(
  model: HookedModel,
  tokens: tf.Tensor,
  answers: readonly number[],
  wrong: readonly number[],
): number {
  const logits = model.forward(tokens);
  try {
    return handLogitDiff(logits, answers, wrong);
  } finally {
    logits.dispose();
  }
}
