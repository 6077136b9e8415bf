import { logitLens } from '@patchlens/activation-cache';
import type { GPT2 } from '@patchlens/models-gpt2';
import { headAttributionHeatmap, logitLensChart, type ReportSection } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import type { IoiBatch } from '../ioi/ioi-batch.js';

const mean = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

/**
 * The report's residual-stream sections on the clean prompts: the logit lens (logit difference by
 * layer) and the direct logit attribution of every head `[layer, head]`, at the last position,
 * averaged over the prompts.
 */
export async function residualStreamSections(
  model: GPT2,
  batch: IoiBatch,
): Promise<ReportSection[]> {
  const answers = [...batch.answerTokens];
  const wrong = [...batch.wrongTokens];
  const input = tf.tensor2d(
    batch.clean.map((row) => [...row]),
    undefined,
    'int32',
  );
  const { logits, cache } = model.runWithCache(input);
  try {
    const lens = await logitLens(cache, { tokens: answers, wrong });
    const perHead = tf.tidy(() => {
      const heads = cache.stackHeadResults(-1, { posSlice: -1 }); // [layer * head, batch, dModel]
      const attrs = cache.logitAttrs(heads, answers, wrong, { posSlice: -1 }); // [layer * head, batch]
      return tf.mean(attrs, 1); // [layer * head]
    });
    const values = Array.from(await perHead.data());
    perHead.dispose();
    const { nLayers, nHeads } = model.config;
    const prompts = batch.clean.length;
    return [
      {
        title: 'Logit lens',
        caption: `The residual stream entering each layer, and after the last (final_post), read through the final LayerNorm and the unembedding: logit(answer) − logit(wrong name) at the last position, mean over the ${prompts} clean prompts. final_post is the model's own logit difference.`,
        figure: logitLensChart(
          lens.map((row) => row.label),
          lens.map((row) => mean(row.logitDiff!)),
          { title: 'Logit lens: logit difference by layer' },
        ),
      },
      {
        title: 'Direct logit attribution per head',
        caption: `What each head writes along the answer − wrong-name unembedding direction at the last position (divided by the final LayerNorm's scale, as TransformerLens's logit_attrs), mean over the ${prompts} clean prompts. With the MLPs, embeddings and the unembedding bias it adds up to the logit difference.`,
        figure: headAttributionHeatmap({
          values,
          shape: [nLayers, nHeads],
          axes: ['layer', 'head'],
        }),
      },
    ];
  } finally {
    cache.dispose();
    tf.dispose([logits, input]);
  }
}
