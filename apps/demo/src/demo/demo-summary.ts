import { type PositionRole, positionWords } from './demo-roles.js';
import type { NormalizedResult } from './demo-sweeps.js';

/** What the summary reads: normalised results by sweep name, the positions' roles and the baselines. */
export interface SummaryInput {
  readonly results: Readonly<Record<string, NormalizedResult>>;
  /** Role and example token of every position (see `ioiPositionRoles`). */
  readonly roles: readonly PositionRole[];
  readonly prompts: number;
  readonly clean: number;
  readonly corrupted: number;
}

/** A fraction restored as a whole percentage, never "-0%". */
export function percent(value: number): string {
  const rounded = Math.round(100 * value);
  return `${rounded === 0 ? 0 : rounded}%`;
}

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

/** Index and value of the largest of `count` values read by `at`. */
function best(count: number, at: (index: number) => number): { index: number; value: number } {
  let index = 0;
  for (let candidate = 1; candidate < count; candidate++) {
    if (at(candidate) > at(index)) index = candidate;
  }
  return { index, value: at(index) };
}

const INPUT_WORDS: Readonly<Record<string, string>> = {
  output: 'output',
  query: 'query (where it looks from)',
  key: 'key (where it can be looked at)',
  value: 'value (what it reads)',
  pattern: 'attention pattern (where it looks)',
};

/**
 * The report's summary in plain words, one bullet each: the baselines and what the percentages
 * mean, where the residual stream carries the answer layer by layer, which of attention and MLPs
 * move it, which heads restore most, and through which inputs and at which positions they act.
 */
export function demoSummary(input: SummaryInput): string[] {
  const { results, roles } = input;
  const where = (position: number) => positionWords(roles, position);
  const bullets = [
    `Baselines: on ${input.prompts} prompts the logit difference (right name − wrong name, at the last position) is ${input.clean.toFixed(1)} on the clean prompts and ${input.corrupted.toFixed(1)} on the corrupted ones, whose second subject mention (S2) names the other person. Each figure restores one piece of the clean run inside the corrupted run and shows how much of the way back it gets: 100% = the clean behaviour, 0% = no effect, above 100% = even more than the clean run, below 0% = the wrong way.`,
  ];
  const block = results['block_every'];
  if (block) {
    const [, layers, positions] = block.shape as [number, number, number];
    const panel = (activation: number, layer: number) => (position: number) =>
      block.values[(activation * layers + layer) * positions + position]!;
    const residual = Array.from({ length: layers }, (_, layer) => {
      const { index, value } = best(positions, panel(0, layer));
      return `entering layer ${layer}, at ${where(index)} (restoring the residual stream there alone: ${percent(value)})`;
    });
    bullets.push(
      `Where the information that decides the answer is: ${residual.join('; ')}. The corrupted prompts differ from the clean ones only at S2, so before layer 0 everything is there; after the last layer it must be at END, where the name is predicted.`,
    );
    const attention = Array.from({ length: layers }, (_, layer) => {
      const { index, value } = best(positions, panel(1, layer));
      return `layer ${layer}'s attention output at ${where(index)}: ${percent(value)}`;
    });
    let mlp = 0;
    for (let layer = 0; layer < layers; layer++) {
      mlp = Math.max(mlp, best(positions, panel(2, layer)).value);
    }
    bullets.push(
      `What moves it is attention: ${attention.join('; ')}. The MLPs matter ${mlp < 0.25 ? 'little' : 'too'}: the most any MLP output restores at one position is ${percent(mlp)}.`,
    );
  }
  const heads = results['attn_head_out_all_pos'];
  const ranked = heads ? rankHeads(heads) : [];
  const top = ranked.slice(0, 3);
  if (top.length > 0) {
    const rest = ranked[3];
    bullets.push(
      `Heads: restoring one head's output at every position, ${top.map((h) => `L${h.layer}H${h.head} restores ${percent(h.value)}`).join(', ')}${rest ? `; every other head ${percent(rest.value)} or less` : ''}. (LxHy = layer x, head y. The heads' shares need not add up to 100%: heads work together.)`,
    );
  }
  const every = results['attn_head_all_pos_every'];
  const byPosition = results['attn_head_by_pos_every'];
  for (const head of top) {
    const parts: string[] = [];
    if (every) {
      const [, layers, headCount] = every.shape as [number, number, number];
      const names = every.labels?.['activation'] ?? ['output', 'query', 'key', 'value', 'pattern'];
      const inputs = names
        .map((name, activation) => ({
          name,
          value: every.values[(activation * layers + head.layer) * headCount + head.head]!,
        }))
        .filter(({ name }) => name !== 'output')
        .sort((a, b) => b.value - a.value);
      const strong = inputs.filter(({ value }) => value >= 0.5 * head.value && value > 0.05);
      const weak = inputs.filter((entry) => !strong.includes(entry));
      if (strong.length > 0) {
        parts.push(
          `acts through its ${strong.map(({ name, value }) => `${INPUT_WORDS[name] ?? name} ${percent(value)}`).join(' and ')}${weak.length > 0 ? `, hardly through its ${weak.map(({ name, value }) => `${name} (${percent(value)})`).join(', ')}` : ''}`,
        );
      }
    }
    if (byPosition) {
      const [, layers, positions, headCount] = byPosition.shape as [number, number, number, number];
      const at = (activation: number) => (position: number) =>
        byPosition.values[
          ((activation * layers + head.layer) * positions + position) * headCount + head.head
        ]!;
      const output = best(positions, at(0));
      parts.push(`its output matters most at ${where(output.index)}: ${percent(output.value)}`);
      const value = best(positions, at(3));
      if (value.value > 0.05) {
        parts.push(
          `its value input matters most at ${where(value.index)}: ${percent(value.value)}`,
        );
      }
    }
    if (parts.length > 0) bullets.push(`L${head.layer}H${head.head} ${parts.join('; ')}.`);
  }
  return bullets;
}
