import type { ColumnTable } from 'arquero';
import { VizInputError } from './viz-input-error.js';

/**
 * The structural shape of a patching result that viz can draw: the values of an
 * n-dimensional array, flattened row-major (last axis fastest), with one name per axis.
 *
 * `@patchlens/patching` returns objects of this shape; any object with these fields works.
 * Axis names follow TransformerLens: `layer`, `pos`, `head`, `head_index`, `dest_pos`,
 * `src_pos`, and `activation` (the leading axis of the `*_every` results).
 *
 * @example
 * ```ts
 * import type { PatchResultLike } from '@patchlens/viz';
 * // resid_pre patching of a 2-layer model on a 3-token prompt: [layer, pos]
 * const result: PatchResultLike = {
 *   values: new Float32Array([0.1, 0.0, 0.9, 0.2, 0.1, 0.7]),
 *   shape: [2, 3],
 *   axes: ['layer', 'pos'],
 * };
 * ```
 */
export interface PatchResultLike {
  /** Row-major values; `values.length` must equal the product of `shape`. */
  readonly values: Float32Array | Float64Array | readonly number[];
  /** One size per axis. */
  readonly shape: readonly number[];
  /** One name per axis, e.g. `['layer', 'pos']`. */
  readonly axes: readonly string[];
  /**
   * Category labels per axis name, e.g. `{ activation: ['resid_pre', 'attn_out', 'mlp_out'] }`.
   * Without it an `activation` axis of size 5 or 3 gets TransformerLens's `*_every` labels.
   */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
}

/**
 * What {@link patchHeatmap} accepts: a {@link PatchResultLike}, or an arquero table with one
 * column per axis (integer indices, or strings for category axes such as `activation`) and a
 * `value` column, one row per patch (the explicit-index-table form of a sweep).
 *
 * @example
 * ```ts
 * import { table } from 'arquero';
 * import { patchHeatmap, type PatchResultInput } from '@patchlens/viz';
 * const input: PatchResultInput = table({ layer: [0, 0, 1, 1], head: [0, 1, 0, 1], value: [0.1, -0.2, 0.5, 0] });
 * const figure = patchHeatmap(input);
 * ```
 */
export type PatchResultInput = PatchResultLike | ColumnTable;

/** Category labels of TransformerLens's `get_act_patch_attn_head_*_every` results. */
export const ATTENTION_HEAD_EVERY_LABELS: readonly string[] = [
  'output',
  'query',
  'key',
  'value',
  'pattern',
];

/** Category labels of TransformerLens's `get_act_patch_block_every` result. */
export const BLOCK_EVERY_LABELS: readonly string[] = ['resid_pre', 'attn_out', 'mlp_out'];

/** One axis of a normalised result: canonical name and the ordered coordinates it takes. */
export interface Axis {
  /** Canonical name: `head_index` becomes `head`; other names are kept. */
  readonly name: string;
  /** The name as given by the input. */
  readonly sourceName: string;
  /** `index` axes have integer coordinates; `category` axes have string labels. */
  readonly kind: 'index' | 'category';
  /** Coordinates in display order. */
  readonly domain: readonly (number | string)[];
}

/** One cell of a normalised result; `coordinates` line up with the result's axes. */
export interface Cell {
  readonly coordinates: readonly (number | string)[];
  /** NaN (or another non-finite number) when the cell has no value. */
  readonly value: number;
}

/** A result turned into a list of cells, whatever form it came in. */
export interface NormalizedResult {
  readonly axes: readonly Axis[];
  readonly cells: readonly Cell[];
}

/** The minimum of arquero's ColumnTable that viz reads. */
interface TableLike {
  numRows(): number;
  columnNames(): string[];
  array(name: string): ArrayLike<unknown>;
}

const VALUE_COLUMN = 'value';

/** Canonical axis name (TransformerLens uses both `head` and `head_index`). */
export function canonicalAxisName(name: string): string {
  return name === 'head_index' ? 'head' : name;
}

function isTableLike(input: unknown): input is TableLike {
  if (typeof input !== 'object' || input === null) return false;
  const candidate = input as Partial<TableLike>;
  return (
    typeof candidate.numRows === 'function' &&
    typeof candidate.columnNames === 'function' &&
    typeof candidate.array === 'function'
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object with keys [${Object.keys(value).join(', ')}]`;
  return `${typeof value} ${String(value)}`;
}

function defaultCategoryLabels(axisName: string, size: number): readonly string[] {
  if (axisName === 'activation' && size === ATTENTION_HEAD_EVERY_LABELS.length) {
    return ATTENTION_HEAD_EVERY_LABELS;
  }
  if (axisName === 'activation' && size === BLOCK_EVERY_LABELS.length) return BLOCK_EVERY_LABELS;
  return Array.from({ length: size }, (_, index) => `${axisName} ${index}`);
}

function checkAxisNames(functionName: string, axes: readonly string[]): void {
  const seen = new Set<string>();
  for (const axis of axes) {
    if (typeof axis !== 'string' || axis.length === 0) {
      throw new VizInputError(
        `${functionName}: every axis name must be a non-empty string; got ${describe(axis)} in axes [${axes.join(', ')}].`,
      );
    }
    const canonical = canonicalAxisName(axis);
    if (seen.has(canonical)) {
      throw new VizInputError(
        `${functionName}: axis "${axis}" appears twice in axes [${axes.join(', ')}]; each axis may appear once ("head" and "head_index" count as the same axis).`,
      );
    }
    seen.add(canonical);
  }
}

function normalizeDense(
  functionName: string,
  input: PatchResultLike,
  labelOverrides: Readonly<Record<string, readonly string[]>> | undefined,
): NormalizedResult {
  const { values, shape, axes } = input;
  if (!Array.isArray(shape) && !ArrayBuffer.isView(shape)) {
    throw new VizInputError(
      `${functionName}: result.shape must be an array of axis sizes; got ${describe(shape)}.`,
    );
  }
  if (!Array.isArray(axes)) {
    throw new VizInputError(
      `${functionName}: result.axes must be an array of axis names; got ${describe(axes)}.`,
    );
  }
  if (
    !Array.isArray(values) &&
    !(values instanceof Float32Array) &&
    !(values instanceof Float64Array)
  ) {
    throw new VizInputError(
      `${functionName}: result.values must be a Float32Array, Float64Array or number[]; got ${describe(values)}.`,
    );
  }
  if (shape.length !== axes.length) {
    throw new VizInputError(
      `${functionName}: result.shape [${shape.join(', ')}] has ${shape.length} axes but result.axes [${axes.join(', ')}] names ${axes.length}; give one name per axis.`,
    );
  }
  if (shape.length === 0) {
    throw new VizInputError(
      `${functionName}: the result has no axes (shape []); a scalar cannot be drawn as a heatmap.`,
    );
  }
  for (const size of shape) {
    if (!Number.isInteger(size) || size < 0) {
      throw new VizInputError(
        `${functionName}: result.shape must hold non-negative integers; got [${shape.join(', ')}].`,
      );
    }
  }
  checkAxisNames(functionName, axes);
  const count = shape.reduce((product, size) => product * size, 1);
  if (values.length !== count) {
    throw new VizInputError(
      `${functionName}: result.values has ${values.length} entries but result.shape [${shape.join(', ')}] needs ${count}; values must be the row-major flattening of the shape.`,
    );
  }
  if (count === 0) {
    throw new VizInputError(
      `${functionName}: the result is empty (shape [${shape.join(', ')}], axes [${axes.join(', ')}]); there is nothing to draw.`,
    );
  }

  const allLabels = { ...input.labels, ...labelOverrides };
  const normalizedAxes: Axis[] = axes.map((sourceName, axisIndex) => {
    const size = shape[axisIndex]!;
    const name = canonicalAxisName(sourceName);
    const given = allLabels[sourceName] ?? allLabels[name];
    if (given !== undefined) {
      if (given.length !== size) {
        throw new VizInputError(
          `${functionName}: labels.${sourceName} has ${given.length} entries but axis "${sourceName}" has size ${size}; give one label per coordinate.`,
        );
      }
      if (new Set(given).size !== given.length) {
        throw new VizInputError(
          `${functionName}: labels.${sourceName} repeats a label ([${given.join(', ')}]); category labels must be distinct.`,
        );
      }
      return { name, sourceName, kind: 'category', domain: [...given] };
    }
    if (name === 'activation') {
      return { name, sourceName, kind: 'category', domain: defaultCategoryLabels(name, size) };
    }
    return { name, sourceName, kind: 'index', domain: Array.from({ length: size }, (_, i) => i) };
  });

  const cells: Cell[] = new Array(count);
  const coordinates = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < count; flat++) {
    cells[flat] = {
      coordinates: normalizedAxes.map((axis, axisIndex) => axis.domain[coordinates[axisIndex]!]!),
      value: Number(values[flat]),
    };
    // advance the multi-index, last axis fastest (row-major)
    for (let axisIndex = shape.length - 1; axisIndex >= 0; axisIndex--) {
      coordinates[axisIndex] = coordinates[axisIndex]! + 1;
      if (coordinates[axisIndex]! < shape[axisIndex]!) break;
      coordinates[axisIndex] = 0;
    }
  }
  return { axes: normalizedAxes, cells };
}

function normalizeTable(
  functionName: string,
  input: TableLike,
  labelOverrides: Readonly<Record<string, readonly string[]>> | undefined,
): NormalizedResult {
  const columnNames = input.columnNames();
  if (!columnNames.includes(VALUE_COLUMN)) {
    throw new VizInputError(
      `${functionName}: the table has columns [${columnNames.join(', ')}] but no "${VALUE_COLUMN}" column; give one column per axis plus "${VALUE_COLUMN}".`,
    );
  }
  const axisNames = columnNames.filter((name) => name !== VALUE_COLUMN);
  if (axisNames.length === 0) {
    throw new VizInputError(
      `${functionName}: the table has only a "${VALUE_COLUMN}" column; add one column per axis (e.g. layer, pos).`,
    );
  }
  checkAxisNames(functionName, axisNames);
  const rowCount = input.numRows();
  if (rowCount === 0) {
    throw new VizInputError(
      `${functionName}: the table has no rows (columns [${columnNames.join(', ')}]); there is nothing to draw.`,
    );
  }
  const valueColumn = input.array(VALUE_COLUMN);
  const axes: Axis[] = [];
  const columns: (number | string)[][] = [];
  for (const sourceName of axisNames) {
    const name = canonicalAxisName(sourceName);
    const raw = Array.from(input.array(sourceName));
    const labels = labelOverrides?.[sourceName] ?? labelOverrides?.[name];
    const allNumbers = raw.every((entry) => typeof entry === 'number');
    const allStrings = raw.every((entry) => typeof entry === 'string');
    if (allNumbers) {
      const bad = (raw as number[]).find((entry) => !Number.isInteger(entry) || entry < 0);
      if (bad !== undefined) {
        throw new VizInputError(
          `${functionName}: column "${sourceName}" holds ${bad}; axis columns must hold non-negative integer indices or string labels.`,
        );
      }
      const numbers = raw as number[];
      if (labels !== undefined) {
        const tooLarge = numbers.find((entry) => entry >= labels.length);
        if (tooLarge !== undefined) {
          throw new VizInputError(
            `${functionName}: column "${sourceName}" holds index ${tooLarge} but labels.${sourceName} has only ${labels.length} entries.`,
          );
        }
        columns.push(numbers.map((entry) => labels[entry]!));
        axes.push({ name, sourceName, kind: 'category', domain: [...labels] });
      } else if (name === 'activation') {
        const size = Math.max(...numbers) + 1;
        const defaults = defaultCategoryLabels(name, size);
        columns.push(numbers.map((entry) => defaults[entry]!));
        axes.push({ name, sourceName, kind: 'category', domain: defaults });
      } else {
        columns.push(numbers);
        const domain = [...new Set(numbers)].sort((a, b) => a - b);
        axes.push({ name, sourceName, kind: 'index', domain });
      }
    } else if (allStrings) {
      const strings = raw as string[];
      const seen = [...new Set(strings)];
      const domain = labels !== undefined ? [...labels] : seen;
      const unknown = strings.find((entry) => !domain.includes(entry));
      if (unknown !== undefined) {
        throw new VizInputError(
          `${functionName}: column "${sourceName}" holds "${unknown}", which is not in labels.${sourceName} [${domain.join(', ')}].`,
        );
      }
      columns.push(strings);
      axes.push({ name, sourceName, kind: 'category', domain });
    } else {
      const sample = raw.find((entry) => typeof entry !== 'number' && typeof entry !== 'string');
      throw new VizInputError(
        `${functionName}: column "${sourceName}" holds ${describe(sample)}; axis columns must hold only integers or only strings.`,
      );
    }
  }
  const cells: Cell[] = [];
  const seenCoordinates = new Set<string>();
  for (let row = 0; row < rowCount; row++) {
    const coordinates = columns.map((column) => column[row]!);
    const key = JSON.stringify(coordinates);
    if (seenCoordinates.has(key)) {
      throw new VizInputError(
        `${functionName}: the table has two rows for ${axisNames.map((name, i) => `${name}=${coordinates[i]}`).join(', ')}; each cell may appear once.`,
      );
    }
    seenCoordinates.add(key);
    const value = valueColumn[row];
    if (value !== null && value !== undefined && typeof value !== 'number') {
      throw new VizInputError(
        `${functionName}: the "${VALUE_COLUMN}" column holds ${describe(value)} in row ${row}; it must hold numbers (null or NaN for no value).`,
      );
    }
    cells.push({ coordinates, value: typeof value === 'number' ? value : Number.NaN });
  }
  return { axes, cells };
}

/**
 * Reads a {@link PatchResultInput} into a list of cells with named, ordered axes.
 * Throws {@link VizInputError} on an empty result or one whose parts disagree.
 */
export function normalizePatchResult(
  functionName: string,
  input: PatchResultInput,
  labelOverrides?: Readonly<Record<string, readonly string[]>>,
): NormalizedResult {
  if (isTableLike(input)) return normalizeTable(functionName, input, labelOverrides);
  if (
    typeof input === 'object' &&
    input !== null &&
    'values' in input &&
    'shape' in input &&
    'axes' in input
  ) {
    return normalizeDense(functionName, input, labelOverrides);
  }
  throw new VizInputError(
    `${functionName}: result must be an object { values, shape, axes } (a PatchResultLike) or an arquero table with axis columns and "value"; got ${describe(input)}.`,
  );
}
