import type { GPT2 } from '@patchlens/models-gpt2';
import { attentionPatterns, htmlReport, patchHeatmap, type ReportSection } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import { residualStreamSections } from './demo-residual-sections.js';
import { rankHeads } from './demo-summary.js';
import type { NormalizedResult } from './demo-sweeps.js';

const CAPTIONS: Record<string, string> = {
  block_every:
    'Restore one activation (residual stream entering the block, attention output, MLP output) at one layer and position from the clean run.',
  attn_head_out_all_pos: "Restore one head's output (hook_z) at every position.",
  attn_head_all_pos_every:
    "Restore one head's output, query, key, value or attention pattern at every position.",
  attn_head_by_pos_every:
    "Restore one head's output, query, key, value or pattern at one position (rows: layer and head).",
};

/** What the report shows. */
export interface ReportInput {
  readonly model: GPT2;
  readonly modelName: string;
  /** Clean prompt tokens `[batch][pos]` (the attention patterns use the first prompt). */
  readonly cleanTokens: readonly (readonly number[])[];
  readonly examples: {
    readonly clean: string;
    readonly corrupted: string;
    readonly answer: string;
    readonly wrong: string;
  };
  readonly results: Readonly<Record<string, NormalizedResult>>;
  readonly summary: readonly string[];
}

/** The attention pattern `[H, dest, src]` of one layer on one prompt. */
function layerPattern(model: GPT2, tokens: readonly number[], layer: number) {
  const name = `blocks.${layer}.attn.hook_pattern`;
  const input = tf.tensor2d([[...tokens]], undefined, 'int32');
  try {
    const { logits, cache } = model.runWithCache(input, { namesFilter: name });
    using _cache = cache;
    logits.dispose();
    const pattern = cache.get(name); // [1, H, P, P]
    return { values: (pattern.dataSync() as Float32Array).slice(), shape: pattern.shape.slice(1) };
  } finally {
    input.dispose();
  }
}

/**
 * The demo's self-contained HTML report: the prompts and the summary, one normalised heatmap per
 * sweep with the first prompt's tokens as labels, and the attention patterns of the three heads
 * that restore most.
 */
export async function demoReport(input: ReportInput): Promise<string> {
  const tokens = input.model.toStrTokens(input.cleanTokens[0]!);
  const { clean, corrupted, answer, wrong } = input.examples;
  const sections: ReportSection[] = [
    {
      title: 'Indirect object identification',
      caption: `Clean: "${clean}" -> "${answer}". Corrupted: "${corrupted}" -> "${wrong}". Metric: logit difference (answer - wrong) at the last position, averaged over the prompts; heatmaps show (patched - corrupted) / (clean - corrupted), so 1 = clean behaviour restored, 0 = no effect. ${input.summary.join(' ')}`,
    },
  ];
  for (const [name, result] of Object.entries(input.results)) {
    sections.push({
      title: name,
      caption: CAPTIONS[name] ?? '',
      figure: patchHeatmap(result, {
        tokens,
        title: `${name} (${input.modelName})`,
        valueLabel: 'restored',
      }),
    });
  }
  const heads = input.results.attn_head_out_all_pos;
  for (const { layer, head, value } of heads ? rankHeads(heads).slice(0, 3) : []) {
    const pattern = layerPattern(input.model, input.cleanTokens[0]!, layer);
    sections.push({
      title: `Attention of head L${layer}H${head}`,
      caption: `Restores ${(100 * value).toFixed(0)}% of the clean logit difference when its output is patched. Rows: destination (query) token; columns: source token; first clean prompt.`,
      figure: attentionPatterns(pattern, tokens, {
        heads: [head],
        focusHead: head,
        layer,
        title: `L${layer}H${head} attention`,
      }),
    });
  }
  sections.push(
    ...(await residualStreamSections(input.model, input.cleanTokens[0]!, answer, wrong)),
  );
  return htmlReport(sections, {
    title: `PatchLens: activation patching on ${input.modelName}`,
    description: 'Every figure is static SVG; the file needs no network access.',
  });
}
