import { useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { fromArrow, fromCSV, table } from 'arquero';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeIndexTable } from './index-table.js';
import {
  PatchResult,
  patchResultsTable,
  patchResultsToArrow,
  patchResultsToCSV,
} from './patch-result.js';

const grid = () =>
  new PatchResult({
    values: new Float32Array([0.5, 1, 1.5, 2, 2.5, 3]),
    shape: [2, 3],
    axes: ['layer', 'pos'],
    ms: 12.5,
  });

describe('PatchResult', () => {
  beforeAll(() => useBackend('cpu'));

  it('indexes row-major (last axis fastest) and converts to a tensor', () => {
    const result = grid();
    expect(result.get(0, 2)).toBe(1.5);
    expect(result.get(1, 0)).toBe(2);
    expect(() => result.get(2, 0)).toThrow(
      /index 2 for axis "layer" is out of range; accepted: 0\.\.1/,
    );
    expect(() => result.get(0)).toThrow(InvalidArgumentError);
    const before = tf.memory().numTensors;
    const tensor = result.toTensor();
    expect(tensor.shape).toEqual([2, 3]);
    expect(tensor.arraySync()).toEqual([
      [0.5, 1, 1.5],
      [2, 2.5, 3],
    ]);
    tensor.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('exports the CLI JSON entry, CSV and Arrow', () => {
    const result = grid();
    expect(JSON.parse(JSON.stringify(result))).toEqual({
      axes: ['layer', 'pos'],
      shape: [2, 3],
      values: [0.5, 1, 1.5, 2, 2.5, 3],
      ms: 12.5,
    });
    expect(result.toCSV()).toBe(
      'layer,pos,value\n0,0,0.5\n0,1,1\n0,2,1.5\n1,0,2\n1,1,2.5\n1,2,3\n',
    );
    expect(result.toCSV({ patch: 'resid_pre' }).split('\n')[2]).toBe('resid_pre,0,1,1');
    for (const format of ['file', 'stream'] as const) {
      const back = fromArrow(result.toArrow({ patch: 'resid_pre', format }));
      expect(back.columnNames()).toEqual(['patch', 'layer', 'pos', 'value']);
      expect(back.objects()[4]).toEqual({ patch: 'resid_pre', layer: 1, pos: 1, value: 2.5 });
    }
  });

  it('labels category axes in tables and JSON', () => {
    const every = new PatchResult({
      values: new Float32Array([1, 2, 3, 4, 5, 6]),
      shape: [3, 1, 2],
      axes: ['activation', 'layer', 'pos'],
      labels: { activation: ['resid_pre', 'attn_out', 'mlp_out'] },
    });
    expect(every.toTable().objects()[3]).toEqual({
      activation: 'attn_out',
      layer: 0,
      pos: 1,
      value: 4,
    });
    expect(every.toJSON().labels).toEqual({ activation: ['resid_pre', 'attn_out', 'mlp_out'] });
    expect(every.toJSON()).not.toHaveProperty('ms');
    expect(
      () =>
        new PatchResult({
          values: new Float32Array(6),
          shape: [3, 1, 2],
          axes: ['activation', 'layer', 'pos'],
          labels: { activation: ['a', 'b'] },
        }),
    ).toThrow(/labels.activation has 2 entries but axis "activation" has size 3/);
    expect(
      () => new PatchResult({ values: new Float32Array(5), shape: [2, 3], axes: ['a', 'b'] }),
    ).toThrow(/6 entries/);
  });

  it('flat results keep their index table', () => {
    const rows = table({ layer: [1, 0], head: [2, 3] });
    const flat = new PatchResult({
      values: new Float32Array([7, 8]),
      shape: [2],
      axes: ['row'],
      indexTable: rows,
    });
    expect(flat.toTable().objects()).toEqual([
      { layer: 1, head: 2, value: 7 },
      { layer: 0, head: 3, value: 8 },
    ]);
  });

  it('combines several results into one table, CSV and Arrow (the CLI layout)', () => {
    const heads = new PatchResult({
      values: new Float32Array([9, 10]),
      shape: [1, 1, 2],
      axes: ['layer', 'pos', 'head'],
    });
    const combined = patchResultsTable({ resid_pre: grid(), attn_head_out_by_pos: heads });
    expect(combined.columnNames()).toEqual(['patch', 'layer', 'pos', 'head', 'value']);
    expect(combined.numRows()).toBe(8);
    expect(combined.objects()[0]).toEqual({
      patch: 'resid_pre',
      layer: 0,
      pos: 0,
      head: null,
      value: 0.5,
    });
    expect(combined.objects()[7]).toEqual({
      patch: 'attn_head_out_by_pos',
      layer: 0,
      pos: 0,
      head: 1,
      value: 10,
    });
    const csv = fromCSV(patchResultsToCSV({ resid_pre: grid(), attn_head_out_by_pos: heads }));
    expect(csv.numRows()).toBe(8);
    const arrow = fromArrow(
      patchResultsToArrow({ resid_pre: grid(), attn_head_out_by_pos: heads }),
    );
    expect(arrow.objects()[6]).toEqual({
      patch: 'attn_head_out_by_pos',
      layer: 0,
      pos: 0,
      head: 0,
      value: 9,
    });
  });
});

describe('makeIndexTable', () => {
  it('is the cartesian product, last axis fastest', () => {
    const rows = makeIndexTable([2, 3], ['layer', 'pos']);
    expect(
      rows
        .objects()
        .map((row) => [
          (row as Record<string, number>)['layer'],
          (row as Record<string, number>)['pos'],
        ]),
    ).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
    expect(() => makeIndexTable([2], ['layer', 'pos'])).toThrow(/one size per name/);
  });
});
