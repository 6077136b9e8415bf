import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { type ColumnTable, table } from 'arquero';
import {
  checkAxisNames,
  INDEX_AXIS_NAMES,
  type IndexAxisName,
  isIndexAxisName,
} from './index-axes.js';

/**
 * An arquero table of every combination of `0..sizes[i]-1`, one column per axis, last axis fastest
 * (TransformerLens `make_df_from_ranges`).
 *
 * @param sizes - how many values each axis takes.
 * @param axisNames - one column name per size.
 * @example
 * ```ts
 * makeIndexTable([2, 3], ['layer', 'pos']).objects();
 * // [{layer: 0, pos: 0}, {layer: 0, pos: 1}, {layer: 0, pos: 2}, {layer: 1, pos: 0}, ...]
 * ```
 */
export function makeIndexTable(
  sizes: readonly number[],
  axisNames: readonly string[],
): ColumnTable {
  if (sizes.length !== axisNames.length) {
    throw new InvalidArgumentError(
      `makeIndexTable: got ${sizes.length} sizes [${sizes.join(', ')}] but ${axisNames.length} axis names [${axisNames.join(', ')}]; give one size per name.`,
    );
  }
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 0) {
      throw new InvalidArgumentError(
        `makeIndexTable: sizes must be non-negative integers, got [${sizes.join(', ')}].`,
      );
    }
  }
  const count = sizes.reduce((product, size) => product * size, 1);
  const columns: Record<string, Int32Array> = {};
  let stride = count;
  sizes.forEach((size, axis) => {
    stride = size === 0 ? 0 : stride / size;
    const column = new Int32Array(count);
    for (let row = 0; row < count; row++) column[row] = Math.floor(row / stride) % size;
    columns[axisNames[axis]!] = column;
  });
  return table(columns);
}

/** The rows of an index table as integer tuples, with the column names. */
export interface IndexRows {
  readonly axisNames: IndexAxisName[];
  readonly rows: number[][];
}

/** The minimum of an arquero table that index tables need. */
interface TableLike {
  numRows(): number;
  columnNames(): string[];
  array(name: string): ArrayLike<unknown>;
}

function isTableLike(value: unknown): value is TableLike {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<TableLike>;
  return (
    typeof candidate.numRows === 'function' &&
    typeof candidate.columnNames === 'function' &&
    typeof candidate.array === 'function'
  );
}

/**
 * Reads and validates an explicit index table: known axis names, `layer` first, integers inside
 * each axis's range.
 *
 * @throws InvalidArgumentError naming the column, row and value at fault.
 */
export function readIndexTable(
  functionName: string,
  indexTable: unknown,
  sizes: Readonly<Record<IndexAxisName, number>>,
): IndexRows {
  if (!isTableLike(indexTable)) {
    throw new InvalidArgumentError(
      `${functionName}: indexTable must be an arquero table (aq.table({...})), got ${typeof indexTable}.`,
    );
  }
  const names = indexTable.columnNames();
  const unknown = names.find((name) => !isIndexAxisName(name));
  if (unknown !== undefined) {
    throw new InvalidArgumentError(
      `${functionName}: indexTable has a column "${unknown}" that is not an index axis; columns: [${names.join(', ')}]; accepted names: ${INDEX_AXIS_NAMES.join(', ')}.`,
    );
  }
  const axisNames = checkAxisNames(`${functionName} (indexTable columns)`, names);
  const count = indexTable.numRows();
  if (count === 0) {
    throw new InvalidArgumentError(`${functionName}: indexTable has no rows; give at least one.`);
  }
  const rows: number[][] = Array.from({ length: count }, () => new Array<number>(axisNames.length));
  axisNames.forEach((name, axis) => {
    const column = indexTable.array(name);
    const size = sizes[name];
    for (let row = 0; row < count; row++) {
      const value = column[row];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= size) {
        throw new InvalidArgumentError(
          `${functionName}: indexTable column "${name}" holds ${JSON.stringify(value)} in row ${row}; accepted: integers 0..${size - 1} (${name} has ${size} values for this model and prompt).`,
        );
      }
      rows[row]![axis] = value;
    }
  });
  return { axisNames, rows };
}
