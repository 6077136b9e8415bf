import type { GPT2 } from '@patchlens/models-gpt2';
import {
  attentionPatterns,
  htmlReport,
  NORMALIZED_SCALE,
  patchHeatmap,
  pathHeatmap,
  type ReportSection,
} from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import type { IoiBatch } from '../ioi/ioi-batch.js';
import { type BatchPatterns, circuitNote } from './demo-circuit.js';
import { demoPaths } from './demo-paths.js';
import { residualStreamSections } from './demo-residual-sections.js';
import { ioiPositionRoles, promptRolePositions, roleLabels } from './demo-roles.js';
import { rankHeads } from './demo-summary.js';
import type { NormalizedResult } from './demo-sweeps.js';

const CAPTIONS: Record<string, string> = {
  block_every:
    'Restore one activation (the residual stream entering the block, the attention output, the MLP output) at one layer and one position from the clean run.',
  attn_head_out_all_pos: "Restore one head's output (hook_z) at every position at once.",
  attn_head_all_pos_every:
    "Restore one of a head's inputs or its output at every position: output, query, key, value, or its attention pattern.",
  attn_head_by_pos_every:
    "Restore one of a head's inputs or its output at one position (rows: layer and head).",
};

/** What the report shows. */
export interface ReportInput {
  readonly model: GPT2;
  readonly modelName: string;
  /** Whether the model is the bundled IOI model (adds the comparison with GPT-2 small). */
  readonly bundled: boolean;
  /** The prompts, clean and corrupted token ids and answers. */
  readonly batch: IoiBatch;
  readonly results: Readonly<Record<string, NormalizedResult>>;
  /** The summary bullets (`demoSummary`). */
  readonly summary: readonly string[];
}

/** The attention patterns of every layer on every clean prompt, `[batch, head, dest, src]` each. */
function batchPatterns(model: GPT2, batch: IoiBatch): BatchPatterns[] {
  const input = tf.tensor2d(
    batch.clean.map((row) => [...row]),
    undefined,
    'int32',
  );
  try {
    const { logits, cache } = model.runWithCache(input, { namesFilter: /attn\.hook_pattern$/ });
    using _cache = cache;
    logits.dispose();
    return Array.from({ length: model.config.nLayers }, (_, layer) => {
      const pattern = cache.get(`blocks.${layer}.attn.hook_pattern`); // [batch, head, dest, src]
      return {
        values: (pattern.dataSync() as Float32Array).slice(),
        shape: pattern.shape as [number, number, number, number],
      };
    });
  } finally {
    input.dispose();
  }
}

/** Prompt 1's attention patterns of one layer, `[head, dest, src]`. */
function firstPromptPattern(patterns: BatchPatterns) {
  const [, heads, positions] = patterns.shape;
  return {
    values: patterns.values.subarray(0, heads * positions * positions),
    shape: [heads, positions, positions],
  };
}

/**
 * The demo's self-contained HTML report: what the run found (bulleted, in plain words), what the
 * circuit is and how it compares with GPT-2 small's, one heatmap per sweep on the fixed −1…1
 * scale with positions labelled by IOI role, and the attention of the three heads that restore most.
 */
export async function demoReport(input: ReportInput): Promise<string> {
  const { batch, model } = input;
  const example = batch.prompts[0]!;
  const roles = ioiPositionRoles(batch, model.toStrTokens(batch.clean[0]!));
  const labels = roleLabels(roles);
  const patterns = batchPatterns(model, batch);
  const prompts = batch.prompts.length;
  const sections: ReportSection[] = [
    {
      title: 'What this run found',
      caption: `Task: indirect object identification (IOI). Prompt 1 of ${prompts}: "${example.clean}" → "${example.answer}" (clean); "${example.corrupted}" → "${example.wrong}" (corrupted). Metric: the logit difference between the right and the wrong name at the last position, averaged over the prompts.`,
      bullets: input.summary,
    },
  ];
  const heads = input.results['attn_head_out_all_pos'];
  const top = heads ? rankHeads(heads).slice(0, 3) : [];
  if (top.length > 0) {
    const note = circuitNote({
      results: input.results,
      roles,
      rolePositions: promptRolePositions(batch),
      heads: top,
      patterns: (layer) => patterns[layer]!,
      nLayers: model.config.nLayers,
    });
    sections.push({
      title: input.bundled ? 'The circuit, and how it differs from GPT-2 small' : 'The circuit',
      caption:
        'Where the heads that restore most act, and where they look from there (attention averaged over all prompts, by role).',
      // the comparison with GPT-2 small's circuit is about the bundled model only
      bullets: input.bundled ? note : note.slice(0, top.length),
    });
  }
  sections.push({
    title: 'How to read the figures',
    caption: `The ${prompts} prompts share one template, so a position means the same in all of them, and every figure averages over the prompts. Positions are labelled by their role, with prompt 1's token as an example: IO = the indirect object (the right answer), S1 and S2 = the first and second mention of the subject (the wrong answer), END = the last position, where the name is predicted; "IO/S1" = IO in some prompts and S1 in others (the name order alternates); * = the prompts have different tokens there. Colour: the fraction of the clean logit difference restored, on one fixed scale for every figure: white = 0 (no effect), blue = 1 (clean behaviour restored), red = −1; values beyond ±1 are drawn in the end colour and their exact value is in the figure's caption and tooltip.`,
  });
  for (const [name, result] of Object.entries(input.results)) {
    sections.push({
      title: name,
      caption: CAPTIONS[name] ?? '',
      figure: patchHeatmap(result, {
        tokens: labels,
        title: `${name} (${input.modelName})`,
        valueLabel: 'restored',
        maxTokenLength: 18,
        cellValues: result.shape.length === 2 && result.values.length <= 100,
        ...NORMALIZED_SCALE,
      }),
    });
  }
  // prompt 1's own roles (IO and S1 swap places between prompts), for its attention patterns
  const firstRoles = roleLabels(
    ioiPositionRoles(
      {
        ...batch,
        prompts: batch.prompts.slice(0, 1),
        clean: batch.clean.slice(0, 1),
        corrupted: batch.corrupted.slice(0, 1),
        answerTokens: batch.answerTokens.slice(0, 1),
        wrongTokens: batch.wrongTokens.slice(0, 1),
      },
      model.toStrTokens(batch.clean[0]!),
    ),
  );
  for (const { layer, head, value } of top) {
    sections.push({
      title: `Attention of head L${layer}H${head}`,
      caption: `Restores ${Math.round(100 * value)}% of the clean logit difference when its output is restored at every position. Rows: the position attending (destination, query); columns: the position attended to (source, key). Prompt 1, whose roles label the positions; the circuit section above gives this head's attention by role averaged over all ${prompts} prompts.`,
      figure: attentionPatterns(firstPromptPattern(patterns[layer]!), firstRoles, {
        heads: [head],
        focusHead: head,
        layer,
        title: `L${layer}H${head} attention on prompt 1`,
        maxTokenLength: 18,
      }),
    });
  }
  if (heads) {
    // receivers: the heads the head-output sweep ranks highest (layer > 0), and the logits
    const receivers = rankHeads(heads)
      .filter(({ layer }) => layer > 0)
      .slice(0, 2);
    const panels = await demoPaths(model, batch, receivers);
    sections.push({
      title: 'Which heads talk to which (path patching)',
      caption: `Path patching (Wang et al. 2022): each head in turn is the sender; the clean run gets that head's output from the corrupted run while every other head keeps its clean output (MLPs recomputed), and only the receiver's inputs take the result. One panel per receiver: ${panels.map((panel) => panel.receiver).join(', ')}. Colour: (path-patched − clean) / (clean − corrupted): white = 0, the path carries nothing; red = −1, the path alone carries as much as corrupting the whole prompt. Heads at or after a receiver's layer cannot reach it and are exactly 0.`,
      figure: pathHeatmap(panels),
    });
  }
  sections.push(...(await residualStreamSections(model, batch)));
  return htmlReport(sections, {
    title: `PatchLens: activation patching on ${input.modelName}`,
    description: 'Every figure is static SVG; the file needs no network access.',
  });
}
