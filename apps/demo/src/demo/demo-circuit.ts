import { type PositionRole, type PromptRolePositions, positionWords } from './demo-roles.js';
import { percent } from './demo-summary.js';
import type { NormalizedResult } from './demo-sweeps.js';

/** One layer's attention patterns for every prompt: `values` of shape `[batch, head, dest, src]`. */
export interface BatchPatterns {
  readonly values: Float32Array;
  readonly shape: readonly [number, number, number, number];
}

/** What the circuit note reads. */
export interface CircuitInput {
  readonly results: Readonly<Record<string, NormalizedResult>>;
  readonly roles: readonly PositionRole[];
  readonly rolePositions: readonly PromptRolePositions[];
  /** The heads to describe, most important first. */
  readonly heads: readonly { layer: number; head: number; value: number }[];
  /** Attention patterns of a layer on every prompt. */
  readonly patterns: (layer: number) => BatchPatterns;
  readonly nLayers: number;
}

/** One head's attention, averaged over the prompts, from `dest` to each role (and to BOS). */
export function attentionByRole(
  patterns: BatchPatterns,
  head: number,
  dest: number,
  rolePositions: readonly PromptRolePositions[],
): Record<'IO' | 'S1' | 'S2' | 'BOS', number> {
  const [batch, heads, positions] = patterns.shape;
  const totals = { IO: 0, S1: 0, S2: 0, BOS: 0 };
  for (let prompt = 0; prompt < batch; prompt++) {
    const row = ((prompt * heads + head) * positions + dest) * positions;
    const roles = rolePositions[prompt]!;
    for (const role of ['IO', 'S1', 'S2'] as const) {
      const position = roles[role];
      if (position >= 0 && position <= dest) totals[role] += patterns.values[row + position]!;
    }
    totals.BOS += patterns.values[row]!;
  }
  for (const role of Object.keys(totals) as (keyof typeof totals)[]) totals[role] /= batch;
  return totals;
}

/** The position where restoring a head's output matters most (by position), else the last one. */
function headPosition(
  results: Readonly<Record<string, NormalizedResult>>,
  layer: number,
  head: number,
  positions: number,
): number {
  const byPosition = results['attn_head_by_pos_every'];
  if (!byPosition) return positions - 1;
  const headCount = byPosition.shape[3]!;
  let bestPosition = 0;
  const at = (position: number) =>
    byPosition.values[(layer * positions + position) * headCount + head]!;
  for (let position = 1; position < positions; position++) {
    if (at(position) > at(bestPosition)) bestPosition = position;
  }
  return bestPosition;
}

const GPT2_SMALL = `How GPT-2 small does IOI (Wang et al. 2022, "Interpretability in the Wild"): about 26 heads in 7 classes. At S2, duplicate-token and induction heads (e.g. 0.1, 3.0, 5.5) notice that the subject's name appeared before (they attend from S2 to S1, the earlier copy). S-inhibition heads (7.3, 7.9, 8.6, 8.10) carry "S is repeated" to END. Name-mover heads (9.9, 9.6, 10.0) at END then attend to the name that is not inhibited, the IO, and copy it into the logits; backup and negative name movers adjust the result. There, restoring the residual stream matters at S2 in the early layers and at END only from around layer 8, and the name movers read the IO position.`;

/**
 * A note, as bullets, on the circuit this run found, in words and measured: where each top head
 * acts and where it looks (attention averaged over the prompts, by role), then how GPT-2 small's
 * IOI circuit works and how this one differs.
 */
export function circuitNote(input: CircuitInput): string[] {
  const { roles, rolePositions } = input;
  const positions = roles.length;
  const bullets: string[] = [];
  const looks: { layer: number; dest: string; target: string }[] = [];
  for (const { layer, head, value } of input.heads) {
    const dest = headPosition(input.results, layer, head, positions);
    const attention = attentionByRole(input.patterns(layer), head, dest, rolePositions);
    const ranked = (Object.entries(attention) as [string, number][])
      .filter(([, weight]) => weight > 0.1)
      .sort((a, b) => b[1] - a[1]);
    const destRole = roles[dest]?.role || `position ${dest}`;
    looks.push({ layer, dest: destRole, target: ranked[0]?.[0] ?? 'nowhere in particular' });
    const measured = input.results['attn_head_by_pos_every'] !== undefined;
    bullets.push(
      `L${layer}H${head} (restores ${percent(value)}) ${measured ? `matters most at ${positionWords(roles, dest)}; from there` : `(run attn_head_by_pos_every to see where it matters), from ${positionWords(roles, dest)},`} it attends to ${ranked.length > 0 ? ranked.map(([role, weight]) => `${role} (${percent(weight)} of its attention)`).join(', ') : 'no single role (under 10% each)'}, averaged over the prompts.`,
    );
  }
  const early = looks.filter((look) => look.layer < input.nLayers - 1);
  const late = looks.filter((look) => look.layer === input.nLayers - 1);
  const differences: string[] = [];
  for (const look of early) {
    if (look.dest === 'S2') {
      differences.push(
        look.target === 'S1'
          ? `its layer-${look.layer} heads at S2 attend to S1, as GPT-2 small's duplicate-token heads do`
          : `its layer-${look.layer} heads at S2 attend to ${look.target}, not to S1 as GPT-2 small's duplicate-token heads do: they look up the other name rather than the earlier copy of the same one`,
      );
      break;
    }
  }
  for (const look of late) {
    if (look.dest === 'END') {
      differences.push(
        look.target === 'IO'
          ? `its last-layer heads at END attend to IO, as GPT-2 small's name movers do`
          : `its last-layer heads at END attend to ${look.target}, not to IO as GPT-2 small's name movers do: they copy what the earlier heads wrote at ${look.target}, so one step does the work of GPT-2 small's S-inhibition and name-mover heads`,
      );
      break;
    }
  }
  bullets.push(GPT2_SMALL);
  if (differences.length > 0) {
    bullets.push(
      `The bundled model is much smaller (${input.nLayers} layers) and was trained only on IOI prompts, so its circuit is shorter: ${differences.join('; ')}.`,
    );
  }
  return bullets;
}
