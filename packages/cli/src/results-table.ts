import { type PatchResult, patchResultsTable } from '@patchlens/patching';
import { type ColumnTable, toArrowIPC, toCSV } from 'arquero';

/** What the CSV/Arrow rows carry besides the values: the metric's baselines and the prompt's tokens. */
export interface ResultsContext {
  /** The metric on the clean and on the corrupted run (JSON `metric.clean` / `metric.corrupted`). */
  readonly clean: number;
  readonly corrupted: number;
  /** The first clean prompt as token strings, one per position. */
  readonly tokens: readonly string[];
}

/** Token columns added next to a position axis: `pos` -> `token`, `dest_pos` -> `dest_token`. */
const TOKEN_COLUMNS: Readonly<Record<string, string>> = {
  pos: 'token',
  dest_pos: 'dest_token',
  src_pos: 'src_token',
};

/**
 * The `patchlens patch` CSV/Arrow table: `patch`, the axis names and `value` (spec/cli.md), then
 * `token` (and `dest_token`/`src_token`) holding the first clean prompt's token at that position
 * (empty where the row has no such axis), then `metric_clean` and `metric_corrupted`, the metric on
 * the clean and the corrupted run, the same in every row.
 */
export function resultsTable(
  results: Readonly<Record<string, PatchResult>>,
  context: ResultsContext,
): ColumnTable {
  const base = patchResultsTable(results);
  const rows = base.numRows();
  const extra: Record<string, unknown[]> = {};
  for (const [axis, column] of Object.entries(TOKEN_COLUMNS)) {
    if (!base.columnNames().includes(axis)) continue;
    const positions = base.array(axis) as ArrayLike<number | null>;
    extra[column] = Array.from({ length: rows }, (_, row) => {
      const position = positions[row];
      return position === null || position === undefined
        ? null
        : (context.tokens[position] ?? null);
    });
  }
  extra['metric_clean'] = new Array<number>(rows).fill(context.clean);
  extra['metric_corrupted'] = new Array<number>(rows).fill(context.corrupted);
  return base.assign(extra);
}

/** CSV text of {@link resultsTable}. */
export function resultsCSV(
  results: Readonly<Record<string, PatchResult>>,
  context: ResultsContext,
): string {
  return toCSV(resultsTable(results, context));
}

/** Arrow IPC file bytes of {@link resultsTable}. */
export function resultsArrow(
  results: Readonly<Record<string, PatchResult>>,
  context: ResultsContext,
): Uint8Array {
  return toArrowIPC(resultsTable(results, context), { format: 'file' });
}
