import { InvalidArgumentError, type ModelConfig } from '@patchlens/tensor-hooks';

/**
 * The names an index axis may have, as in TransformerLens (`head` and `head_index` are the same
 * range; `pos`, `dest_pos` and `src_pos` all range over the corrupted prompt's positions).
 *
 * @example
 * ```ts
 * const axes: IndexAxisName[] = ['layer', 'pos', 'head'];
 * ```
 */
export type IndexAxisName = 'layer' | 'pos' | 'head_index' | 'head' | 'src_pos' | 'dest_pos';

/**
 * Every accepted index axis name, in the order error messages list them.
 *
 * @example
 * ```ts
 * INDEX_AXIS_NAMES.includes('dest_pos'); // true
 * ```
 */
export const INDEX_AXIS_NAMES: readonly IndexAxisName[] = [
  'layer',
  'pos',
  'head_index',
  'head',
  'src_pos',
  'dest_pos',
];

/** True when `name` is one of {@link INDEX_AXIS_NAMES} (internal). */
export function isIndexAxisName(name: string): name is IndexAxisName {
  return (INDEX_AXIS_NAMES as readonly string[]).includes(name);
}

/**
 * How many values each index axis takes for one sweep (TransformerLens's `max_axis_range`):
 * `layer` = nLayers; `pos`, `src_pos`, `dest_pos` = the corrupted sequence length; `head`,
 * `head_index` = nHeads, or nKeyValueHeads for the activations `k` and `v` when the model has it.
 */
export function axisSizes(
  config: ModelConfig,
  positions: number,
  activationName: string,
): Record<IndexAxisName, number> {
  const keyValue = activationName === 'k' || activationName === 'v';
  const heads =
    keyValue && config.nKeyValueHeads !== null && config.nKeyValueHeads !== undefined
      ? config.nKeyValueHeads
      : config.nHeads;
  return {
    layer: config.nLayers,
    pos: positions,
    src_pos: positions,
    dest_pos: positions,
    head: heads,
    head_index: heads,
  };
}

/**
 * Checks a list of axis names and returns it typed.
 *
 * @throws InvalidArgumentError naming the unknown axis and listing the accepted ones.
 */
export function checkAxisNames(functionName: string, names: readonly string[]): IndexAxisName[] {
  if (!Array.isArray(names) || names.length === 0) {
    throw new InvalidArgumentError(
      `${functionName}: indexAxisNames must be a non-empty array of axis names, got ${JSON.stringify(names)}; accepted names: ${INDEX_AXIS_NAMES.join(', ')}.`,
    );
  }
  for (const name of names) {
    if (typeof name !== 'string' || !isIndexAxisName(name)) {
      throw new InvalidArgumentError(
        `${functionName}: unknown index axis "${String(name)}" in [${names.join(', ')}]; accepted names: ${INDEX_AXIS_NAMES.join(', ')}.`,
      );
    }
  }
  if (names[0] !== 'layer') {
    throw new InvalidArgumentError(
      `${functionName}: the first index axis must be "layer" (it picks the hook point), got [${names.join(', ')}].`,
    );
  }
  if (new Set(names).size !== names.length) {
    throw new InvalidArgumentError(
      `${functionName}: index axes [${names.join(', ')}] name an axis twice; each axis may appear once.`,
    );
  }
  return [...names] as IndexAxisName[];
}
