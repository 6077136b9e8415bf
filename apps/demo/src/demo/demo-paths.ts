import type { GPT2 } from '@patchlens/models-gpt2';
import { logitDiff, pathPatch } from '@patchlens/patching';
import type { PathHeatmapPanel } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import type { IoiBatch } from '../ioi/ioi-batch.js';

/** A head, e.g. one the head-output sweep ranked high. */
export interface RankedHead {
  readonly layer: number;
  readonly head: number;
}

/**
 * Path patching for the report: every head as a sender, to each given receiver head (all its
 * inputs: query, key and value) and to the logits. Receivers in layer 0 are left out: no head
 * writes to them. Returns one heatmap panel per receiver, normalised (0 = no effect, -1 = the
 * whole corruption).
 */
export async function demoPaths(
  model: GPT2,
  batch: IoiBatch,
  receivers: readonly RankedHead[],
): Promise<PathHeatmapPanel[]> {
  const clean = tf.tensor2d(
    batch.clean.map((row) => [...row]),
    undefined,
    'int32',
  );
  const corrupted = tf.tensor2d(
    batch.corrupted.map((row) => [...row]),
    undefined,
    'int32',
  );
  const metric = logitDiff({ answers: [...batch.answerTokens], wrong: [...batch.wrongTokens] });
  try {
    const sets = [
      ...receivers
        .filter(({ layer }) => layer > 0)
        .map(({ layer, head }) => ({
          name: `L${layer}H${head} (q, k, v)`,
          receivers: (['q', 'k', 'v'] as const).map((input) => ({ layer, head, input })),
        })),
      { name: 'logits', receivers: 'logits' as const },
    ];
    const panels: PathHeatmapPanel[] = [];
    for (const set of sets) {
      const result = await pathPatch(model, {
        clean,
        corrupted,
        metric,
        senders: 'all-heads',
        receivers: set.receivers,
      });
      panels.push({
        receiver: set.name,
        values: result.normalized.values,
        shape: result.normalized.shape as [number, number],
      });
    }
    return panels;
  } finally {
    tf.dispose([clean, corrupted]);
  }
}
