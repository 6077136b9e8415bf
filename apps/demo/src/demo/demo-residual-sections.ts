import { logitLens } from '@patchlens/activation-cache';
import type { GPT2 } from '@patchlens/models-gpt2';
import { headAttributionHeatmap, logitLensChart, type ReportSection } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The report's residual-stream sections for one prompt: the logit lens (logit difference by layer)
 * and the direct logit attribution of every head `[layer, head]`, at the last position.
 *
 * @param tokens - the prompt's token ids.
 * @param answer - the answer's text (one token, e.g. `" Mary"`); `wrong` likewise.
 */
export async function residualStreamSections(
  model: GPT2,
  tokens: readonly number[],
  answer: string,
  wrong: string,
): Promise<ReportSection[]> {
  const answerId = model.toSingleToken(answer);
  const wrongId = model.toSingleToken(wrong);
  const input = tf.tensor2d([[...tokens]], undefined, 'int32');
  const { logits, cache } = model.runWithCache(input);
  try {
    const lens = await logitLens(cache, { tokens: answerId, wrong: wrongId });
    const headValues = tf.tidy(() => {
      const heads = cache.stackHeadResults(-1, { posSlice: -1 }); // [layer * head, 1, dModel]
      return cache.logitAttrs(heads, answerId, wrongId, { posSlice: -1 }); // [layer * head, 1]
    });
    const values = Array.from(await headValues.data());
    headValues.dispose();
    const { nLayers, nHeads } = model.config;
    return [
      {
        title: 'Logit lens',
        caption: `The residual stream after each layer, read through the final LayerNorm and the unembedding: logit("${answer}") - logit("${wrong}") at the last position of the first clean prompt. final_post is the model's own logit difference.`,
        figure: logitLensChart(
          lens.map((row) => row.label),
          lens.map((row) => row.logitDiff![0]!),
          { title: 'Logit lens: logit difference by layer' },
        ),
      },
      {
        title: 'Direct logit attribution per head',
        caption: `What each head writes along the "${answer}" - "${wrong}" unembedding direction (divided by the final LayerNorm's scale), first clean prompt, last position. The heads' sum plus the other components and the unembedding bias is the logit difference.`,
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
