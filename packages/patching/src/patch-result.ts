import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { type ColumnTable, table, toArrowIPC, toCSV } from 'arquero';
import type { PatchResultShard } from './sweep-selection.js';
import { checkSweepShard } from './sweep-shards.js';

/**
 * One sweep's entry in the `patchlens patch` JSON (`patches.<name>`): axes, shape, the values
 * flattened row-major (last axis fastest) and the sweep's wall time.
 *
 * @example
 * ```ts
 * const entry: PatchResultJson = { axes: ['layer', 'pos'], shape: [1, 2], values: [0.1, 0.2], ms: 3.5 };
 * ```
 */
export interface PatchResultJson {
  readonly axes: string[];
  readonly shape: number[];
  readonly values: number[];
  /** Wall time of the sweep in milliseconds (absent when unknown). */
  readonly ms?: number;
  /** Category labels per axis, e.g. `{ activation: ['resid_pre', 'attn_out', 'mlp_out'] }` (absent when none). */
  readonly labels?: Record<string, string[]>;
}

/**
 * What a {@link PatchResult} is made from.
 *
 * @example
 * ```ts
 * new PatchResult({ values: new Float32Array([1, 2]), shape: [1, 2], axes: ['layer', 'pos'] });
 * ```
 */
export interface PatchResultInit {
  /** Row-major values; length = product of `shape`. */
  readonly values: Float32Array;
  readonly shape: readonly number[];
  /** One name per axis. */
  readonly axes: readonly string[];
  /** Category labels per axis name (one per coordinate). */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
  /** For results of an explicit index table: the table (one row per value). */
  readonly indexTable?: ColumnTable;
  /** Wall time of the sweep in milliseconds. */
  readonly ms?: number;
  /** For one part of a sharded sweep: which part, and the flat indices it holds (NaN elsewhere). */
  readonly shard?: PatchResultShard;
}

/**
 * Options of the table exports.
 *
 * @example
 * ```ts
 * result.toCSV({ patch: 'resid_pre' }); // "patch,layer,pos,value\nresid_pre,0,0,0.1\n..."
 * ```
 */
export interface PatchTableOptions {
  /** Add a first column `patch` holding this name (the CLI's CSV/Arrow layout). */
  readonly patch?: string;
}

/**
 * Options of the Arrow exports.
 *
 * @example
 * ```ts
 * result.toArrow({ format: 'stream' });
 * ```
 */
export interface ArrowExportOptions {
  /** Arrow IPC `file` (random access, what `.arrow` files hold; default) or `stream` format. */
  readonly format?: 'file' | 'stream';
}

/**
 * The metric value of every patch of one sweep: an n-dimensional array with named axes.
 *
 * Plain memory (no tensors), so nothing needs disposing. Results of an explicit index table are flat
 * (axis `row`, one value per table row) and keep the table for {@link PatchResult.toTable}.
 *
 * @example
 * ```ts
 * const result = await getActPatchResidPre(model, corruptedTokens, cleanCache, metric);
 * result.shape;        // [nLayers, nPositions]
 * result.get(0, 3);    // layer 0, position 3
 * result.toJSON();     // { axes: ['layer', 'pos'], shape, values, ms }
 * result.toCSV();      // "layer,pos,value\n0,0,0.12\n..."
 * ```
 */
export class PatchResult {
  /** Row-major values (last axis fastest). */
  readonly values: Float32Array;
  /** Size of each axis. */
  readonly shape: readonly number[];
  /** Name of each axis (`layer`, `pos`, `head`, `head_index`, `dest_pos`, `src_pos`, `activation`, `row`). */
  readonly axes: readonly string[];
  /** Category labels per axis name, e.g. the `activation` axis of `*_every` results. */
  readonly labels: Readonly<Record<string, readonly string[]>> | undefined;
  /** The explicit index table the sweep ran over (flat results only). */
  readonly indexTable: ColumnTable | undefined;
  /** Wall time of the sweep in milliseconds. */
  readonly ms: number | undefined;
  /** For one part of a sharded sweep (`shard` option): which part and the flat indices it holds. */
  readonly shard: PatchResultShard | undefined;

  /** @throws InvalidArgumentError when the parts disagree (values vs shape, axes vs shape, labels vs axis size). */
  constructor(init: PatchResultInit) {
    const { values, shape, axes } = init;
    const count = shape.reduce((product, size) => product * size, 1);
    if (!(values instanceof Float32Array) || values.length !== count) {
      throw new InvalidArgumentError(
        `PatchResult: values must be a Float32Array of ${count} entries (shape [${shape}]), got ${values?.length} entries.`,
      );
    }
    if (axes.length !== shape.length) {
      throw new InvalidArgumentError(
        `PatchResult: ${axes.length} axis names [${axes}] for a shape of rank ${shape.length} [${shape}]; give one name per axis.`,
      );
    }
    for (const [name, labels] of Object.entries(init.labels ?? {})) {
      const axis = axes.indexOf(name);
      if (axis < 0 || labels.length !== shape[axis]) {
        throw new InvalidArgumentError(
          `PatchResult: labels.${name} has ${labels.length} entries but axis "${name}" ${axis < 0 ? 'does not exist' : `has size ${shape[axis]}`}.`,
        );
      }
    }
    if (init.indexTable !== undefined && init.indexTable.numRows() !== count) {
      throw new InvalidArgumentError(
        `PatchResult: indexTable has ${init.indexTable.numRows()} rows but there are ${count} values.`,
      );
    }
    this.values = values;
    this.shape = Object.freeze([...shape]);
    this.axes = Object.freeze([...axes]);
    this.labels = init.labels;
    this.indexTable = init.indexTable;
    this.ms = init.ms;
    if (init.shard !== undefined) {
      const { index, count, indices } = init.shard;
      const outside =
        indices instanceof Int32Array
          ? indices.find((flat) => !(flat >= 0 && flat < values.length))
          : 'not an Int32Array';
      if (outside !== undefined) {
        throw new InvalidArgumentError(
          `PatchResult: shard.indices must be an Int32Array of flat indices 0..${values.length - 1}, got ${outside}.`,
        );
      }
      checkSweepShard('PatchResult', { index, count });
    }
    this.shard = init.shard;
  }

  /** Number of values. */
  get size(): number {
    return this.values.length;
  }

  /**
   * The value at one index (one integer per axis).
   *
   * @throws InvalidArgumentError for a wrong number of indices or one out of range.
   */
  get(...index: number[]): number {
    if (index.length !== this.shape.length) {
      throw new InvalidArgumentError(
        `PatchResult.get: got ${index.length} indices [${index}] for axes [${this.axes}]; give one per axis.`,
      );
    }
    let flat = 0;
    index.forEach((value, axis) => {
      const size = this.shape[axis]!;
      if (!Number.isInteger(value) || value < 0 || value >= size) {
        throw new InvalidArgumentError(
          `PatchResult.get: index ${value} for axis "${this.axes[axis]}" is out of range; accepted: 0..${size - 1}.`,
        );
      }
      flat = flat * size + value;
    });
    return this.values[flat]!;
  }

  /** The values as a float32 tensor of shape `shape` (the caller disposes it). */
  toTensor(): tf.Tensor {
    return tf.tensor(this.values, [...this.shape], 'float32');
  }

  /**
   * An arquero table with one row per value: one column per axis (labels as strings where the axis
   * has them; the index table's columns for flat results), then `value`.
   *
   * @param options.patch - add a first column `patch` with this name.
   */
  toTable(options: PatchTableOptions = {}): ColumnTable {
    const columns: Record<string, ArrayLike<unknown>> = {};
    const count = this.values.length;
    if (options.patch !== undefined)
      columns['patch'] = new Array<string>(count).fill(options.patch);
    if (this.indexTable !== undefined) {
      for (const name of this.indexTable.columnNames()) {
        columns[name] = Int32Array.from(this.indexTable.array(name) as ArrayLike<number>);
      }
    } else {
      let stride = count;
      this.axes.forEach((name, axis) => {
        const size = this.shape[axis]!;
        stride = size === 0 ? 0 : stride / size;
        const labels = this.labels?.[name];
        const column = labels ? new Array<string>(count) : new Int32Array(count);
        for (let row = 0; row < count; row++) {
          const coordinate = Math.floor(row / stride) % size;
          column[row] = labels ? labels[coordinate]! : coordinate;
        }
        columns[name] = column;
      });
    }
    columns['value'] = this.values;
    return table(columns);
  }

  /** The `patchlens patch` JSON entry: `{ axes, shape, values, ms, labels? }`. */
  toJSON(): PatchResultJson {
    const json: PatchResultJson = {
      axes: [...this.axes],
      shape: [...this.shape],
      values: Array.from(this.values),
      ...(this.ms === undefined ? {} : { ms: this.ms }),
      ...(this.labels === undefined
        ? {}
        : {
            labels: Object.fromEntries(
              Object.entries(this.labels).map(([name, labels]) => [name, [...labels]]),
            ),
          }),
    };
    return json;
  }

  /** CSV text of {@link PatchResult.toTable} (header row, one line per value). */
  toCSV(options: PatchTableOptions = {}): string {
    return toCSV(this.toTable(options));
  }

  /** Arrow IPC bytes of {@link PatchResult.toTable} (IPC file format unless `options.format` says `stream`). */
  toArrow(options: PatchTableOptions & ArrowExportOptions = {}): Uint8Array {
    return toArrowIPC(this.toTable(options), { format: options.format ?? 'file' });
  }
}

/**
 * Several named results in one table (the `patchlens patch` CSV/Arrow layout): columns `patch`,
 * every axis name that occurs (in order of first appearance; empty where a result lacks the axis),
 * and `value`.
 *
 * @param results - results by patch name, e.g. `{ resid_pre: …, attn_head_out_by_pos: … }`.
 * @example
 * ```ts
 * const csv = patchResultsToCSV({ resid_pre: residResult, attn_out: attnResult });
 * ```
 */
export function patchResultsTable(results: Readonly<Record<string, PatchResult>>): ColumnTable {
  const tables = Object.entries(results).map(([name, result]) => {
    if (!(result instanceof PatchResult)) {
      throw new InvalidArgumentError(
        `patchResultsTable: results.${name} is not a PatchResult (got ${typeof result}).`,
      );
    }
    return result.toTable({ patch: name });
  });
  const axisNames: string[] = [];
  for (const part of tables) {
    for (const name of part.columnNames()) {
      if (name !== 'patch' && name !== 'value' && !axisNames.includes(name)) axisNames.push(name);
    }
  }
  const total = tables.reduce((sum, part) => sum + part.numRows(), 0);
  const columns: Record<string, unknown[] | Float32Array> = { patch: new Array<string>(total) };
  for (const name of axisNames) columns[name] = new Array<unknown>(total).fill(null);
  const values = new Float32Array(total);
  let offset = 0;
  for (const part of tables) {
    const rows = part.numRows();
    for (const name of ['patch', ...axisNames]) {
      if (!part.columnNames().includes(name)) continue;
      const source = part.array(name);
      const target = columns[name] as unknown[];
      for (let row = 0; row < rows; row++) target[offset + row] = source[row];
    }
    values.set(part.array('value') as Float32Array, offset);
    offset += rows;
  }
  columns['value'] = values;
  return table(columns);
}

/**
 * CSV of {@link patchResultsTable}.
 *
 * @example
 * ```ts
 * fs.writeFileSync('out.csv', patchResultsToCSV({ resid_pre: result }));
 * ```
 */
export function patchResultsToCSV(results: Readonly<Record<string, PatchResult>>): string {
  return toCSV(patchResultsTable(results));
}

/**
 * Arrow IPC bytes of {@link patchResultsTable} (IPC file format unless `options.format` says `stream`).
 *
 * @example
 * ```ts
 * fs.writeFileSync('out.arrow', patchResultsToArrow({ resid_pre: result }));
 * ```
 */
export function patchResultsToArrow(
  results: Readonly<Record<string, PatchResult>>,
  options: ArrowExportOptions = {},
): Uint8Array {
  return toArrowIPC(patchResultsTable(results), { format: options.format ?? 'file' });
}
