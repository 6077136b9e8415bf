/** How many cells without a value a caption lists by name before summarising the rest. */
export const MISSING_VALUES_LISTED = 12;

/**
 * The caption sentence naming cells that have no value (NaN), or '' when there are none.
 * `descriptions` are the cells' coordinates in words, e.g. `layer 0, pos 3 (␣Mary)`.
 */
export function missingValuesSentence(
  descriptions: readonly string[],
  noun: 'cell' | 'point' = 'cell',
  treatment = 'drawn grey',
): string {
  if (descriptions.length === 0) return '';
  const listed = descriptions.slice(0, MISSING_VALUES_LISTED).join('; ');
  const more =
    descriptions.length > MISSING_VALUES_LISTED
      ? `; and ${descriptions.length - MISSING_VALUES_LISTED} more`
      : '';
  const count =
    descriptions.length === 1 ? `1 ${noun} has` : `${descriptions.length} ${noun}s have`;
  return `${count} no value (NaN or infinite, ${treatment}): ${listed}${more}.`;
}
