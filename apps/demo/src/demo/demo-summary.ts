import { argmax, type NormalizedResult } from './demo-sweeps.js';

/** What the summary reads: normalised results by sweep name, the prompt tokens and the baselines. */
export interface SummaryInput {
  readonly results: Readonly<Record<string, NormalizedResult>>;
  readonly tokens: readonly string[];
  readonly prompts: number;
  readonly clean: number;
  readonly corrupted: number;
}

const percent = (value: number) => `${(100 * value).toFixed(0)}%`;

/** The heads of `[layer, head]` values, largest first: `{layer, head, value}`. */
export function rankHeads(
  result: NormalizedResult,
): { layer: number; head: number; value: number }[] {
  const heads = result.shape[1]!;
  return Array.from(result.values, (value, index) => ({
    layer: Math.floor(index / heads),
    head: index % heads,
    value,
  })).sort((a, b) => b.value - a.value);
}

/**
 * Up to five lines saying what the heatmaps show: the baselines, where the residual stream
 * carries the answer, which heads restore most, and through which of their inputs and positions.
 */
export function demoSummary(input: SummaryInput): string[] {
  const { results, tokens } = input;
  const token = (position: number) => JSON.stringify(tokens[position] ?? '?');
  const lines = [
    `IOI on ${input.prompts} prompts: clean logit diff ${input.clean.toFixed(2)}, corrupted ${input.corrupted.toFixed(2)} (1 = clean restored below).`,
  ];
  const block = results.block_every;
  if (block) {
    const [layers, positions] = [block.shape[1]!, block.shape[2]!];
    const parts = ['resid_pre', 'attn_out', 'mlp_out'].map((name, activation) => {
      const panel = block.values.subarray(
        activation * layers * positions,
        (activation + 1) * layers * positions,
      );
      const [layer, position] = argmax({
        values: panel,
        shape: [layers, positions],
        axes: ['layer', 'pos'],
      });
      return `${name} peaks at layer ${layer} pos ${position} ${token(position!)} (${percent(panel[layer! * positions + position!]!)})`;
    });
    lines.push(`Residual stream: ${parts.join('; ')}.`);
  }
  const heads = results.attn_head_out_all_pos;
  const top = heads ? rankHeads(heads).slice(0, 3) : [];
  if (top.length > 0) {
    lines.push(
      `Heads restoring most of the logit diff (output, all positions): ${top.map((h) => `L${h.layer}H${h.head} ${percent(h.value)}`).join(', ')}.`,
    );
  }
  const best = top[0];
  const every = results.attn_head_all_pos_every;
  if (best && every) {
    const [, layers, headCount] = every.shape as [number, number, number];
    const names = every.labels?.activation ?? ['output', 'query', 'key', 'value', 'pattern'];
    const parts = names.map(
      (name, activation) =>
        `${name} ${percent(every.values[(activation * layers + best.layer) * headCount + best.head]!)}`,
    );
    lines.push(`Head L${best.layer}H${best.head} by input: ${parts.join(', ')}.`);
  }
  const byPosition = results.attn_head_by_pos_every;
  if (best && byPosition) {
    const [, , positions, headCount] = byPosition.shape as [number, number, number, number];
    let bestPosition = 0;
    const at = (position: number) =>
      byPosition.values[(best.layer * positions + position) * headCount + best.head]!;
    for (let position = 1; position < positions; position++)
      if (at(position) > at(bestPosition)) bestPosition = position;
    lines.push(
      `Head L${best.layer}H${best.head}'s output matters most at pos ${bestPosition} ${token(bestPosition)} (${percent(at(bestPosition))}).`,
    );
  }
  return lines;
}
