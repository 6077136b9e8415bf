import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import {
  createGPT2Config,
  GPT2,
  type GPT2ConfigInput,
  randomGPT2Checkpoint,
} from '@patchlens/models-gpt2';
import { AbortError, type HookSpec, InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getActPatchDirectPath, getActPatchDirectPathAllSources } from './direct-path-patching.js';
import { logitDiff } from './patching-metric.js';
import { type HeadRef, pathPatch, type ReceiverHead } from './path-patching.js';

const TINY: GPT2ConfigInput = { nLayers: 3, nHeads: 4, dModel: 32, dVocab: 40, nCtx: 16 };
const CLEAN = [
  [4, 17, 33, 8, 21, 5],
  [9, 2, 30, 27, 13, 6],
];
const CORRUPTED = [
  [4, 17, 35, 8, 21, 5],
  [9, 12, 30, 27, 13, 6],
];
const METRIC = logitDiff({ answers: [12, 7], wrong: [20, 3] });

function modelFrom(
  input: GPT2ConfigInput,
  seed: number,
  edit: (tensors: ReturnType<typeof randomGPT2Checkpoint>) => void = () => {},
  processWeights = true,
): GPT2 {
  const tensors = randomGPT2Checkpoint(input, { seed });
  edit(tensors);
  return GPT2.fromWeights(createGPT2Config(input), tensors, { processWeights });
}

async function scalar(tensor: tf.Tensor): Promise<number> {
  const value = (await tensor.data())[0]!;
  tensor.dispose();
  return value;
}

/** The metric on one plain forward pass with these hooks (the obvious one-pass-per-patch loop). */
function metricWithHooks(model: GPT2, tokens: tf.Tensor, hooks: HookSpec[]): Promise<number> {
  return scalar(
    tf.tidy(() => {
      const logits = model.runWithHooks(tokens, hooks);
      const [batch, positions, vocab] = logits.shape as [number, number, number];
      const last = tf.slice(logits, [0, positions - 1, 0], [batch, 1, vocab]);
      return METRIC.compute(tf.gather(last, [3, 7, 12, 20], 2)) as tf.Tensor;
    }),
  );
}

/**
 * Reference path patching written plainly (one sender set, batch B, no shortcuts): step 2 with
 * every z hooked, recording the receivers' q/k/v; step 3 replacing only the receiver heads.
 */
async function referencePathPatch(
  model: GPT2,
  clean: tf.Tensor2D,
  corrupted: tf.Tensor2D,
  senders: readonly HeadRef[],
  receivers: readonly ReceiverHead[] | 'end',
): Promise<number> {
  const { nLayers } = model.config;
  const zNames = Array.from({ length: nLayers }, (_, l) => `blocks.${l}.attn.hook_z`);
  const cleanRun = model.runWithCache(clean);
  const corruptedRun = model.runWithCache(corrupted);
  const freeze: HookSpec[] = zNames.map((name, layer) => [
    name,
    () => {
      const cleanZ = cleanRun.cache.get(name).arraySync() as number[][][][];
      const corruptedZ = corruptedRun.cache.get(name).arraySync() as number[][][][];
      for (const sender of senders) {
        if (sender.layer !== layer) continue;
        for (const [b, row] of cleanZ.entries()) {
          for (const [p, position] of row.entries()) {
            position[sender.head] = corruptedZ[b]![p]![sender.head]!;
          }
        }
      }
      return tf.tensor(cleanZ);
    },
  ]);
  try {
    if (receivers === 'end') return await metricWithHooks(model, clean, freeze);
    const recorded = new Map<string, number[][][][]>();
    for (const receiver of receivers) {
      const name = `blocks.${receiver.layer}.attn.hook_${receiver.input}`;
      freeze.push([
        name,
        (activation) => {
          recorded.set(name, activation.arraySync() as number[][][][]);
        },
      ]);
    }
    tf.dispose(model.runWithHooks(clean, freeze));
    const replace: HookSpec[] = receivers.map((receiver) => {
      const name = `blocks.${receiver.layer}.attn.hook_${receiver.input}`;
      return [
        name,
        (activation) => {
          const values = activation.arraySync() as number[][][][];
          const source = recorded.get(name)!;
          for (const [b, row] of values.entries()) {
            for (const [p, position] of row.entries()) {
              position[receiver.head] = source[b]![p]![receiver.head]!;
            }
          }
          return tf.tensor(values);
        },
      ];
    });
    return await metricWithHooks(model, clean, replace);
  } finally {
    tf.dispose([cleanRun.logits, corruptedRun.logits]);
    cleanRun.cache.dispose();
    corruptedRun.cache.dispose();
  }
}

describe.each(TEST_BACKENDS)('pathPatch on %s', (backend) => {
  let model: GPT2;
  let clean: tf.Tensor2D;
  let corrupted: tf.Tensor2D;
  beforeAll(async () => {
    await useBackend(backend);
    model = modelFrom(TINY, 11);
    clean = tf.tensor2d(CLEAN, undefined, 'int32');
    corrupted = tf.tensor2d(CORRUPTED, undefined, 'int32');
  });
  afterAll(() => {
    model?.dispose();
    tf.dispose([clean, corrupted]);
  });

  it('senders after every receiver change nothing (exactly zero), earlier senders do', async () => {
    const receivers: ReceiverHead[] = [
      { layer: 1, head: 2, input: 'q' },
      { layer: 1, head: 0, input: 'v' },
    ];
    const result = await pathPatch(model, {
      clean,
      corrupted,
      metric: METRIC,
      senders: 'all-heads',
      receivers,
    });
    expect(result.effect.shape).toEqual([3, 4]);
    for (let head = 0; head < 4; head++) {
      expect(result.effect.get(1, head)).toBe(0);
      expect(result.effect.get(2, head)).toBe(0);
    }
    const layer0 = [0, 1, 2, 3].map((head) => Math.abs(result.effect.get(0, head)));
    expect(Math.max(...layer0)).toBeGreaterThan(1e-3);
  });

  it('equals the plain three-step algorithm per sender (batched, receivers q, k and v)', async () => {
    const receivers: ReceiverHead[] = [
      { layer: 2, head: 1, input: 'q' },
      { layer: 2, head: 3, input: 'k' },
      { layer: 1, head: 0, input: 'v' },
    ];
    const result = await pathPatch(model, {
      clean,
      corrupted,
      metric: METRIC,
      senders: 'all-heads',
      receivers,
      batchSize: 5,
    });
    for (let layer = 0; layer < 3; layer++) {
      for (let head = 0; head < 4; head++) {
        const expected = await referencePathPatch(
          model,
          clean,
          corrupted,
          [{ layer, head }],
          receivers,
        );
        expect(result.effect.get(layer, head) + result.clean).toBeCloseTo(expected, 4);
      }
    }
    // normalised form: effect / (clean - corrupted)
    const scale = result.clean - result.corrupted;
    expect(result.normalized.get(0, 1)).toBeCloseTo(result.effect.get(0, 1) / scale, 6);
  });

  it("receivers' q/k/v equal TransformerLens's hook_q_input receivers (useSplitQkvInput)", async () => {
    using split = GPT2.fromWeights(
      createGPT2Config(TINY),
      randomGPT2Checkpoint(TINY, { seed: 11 }),
      {
        useSplitQkvInput: true,
      },
    );
    const receiver = { layer: 2, head: 1, input: 'q' } as const;
    const viaHooks = await pathPatch(split, {
      clean,
      corrupted,
      metric: METRIC,
      senders: [{ layer: 0, head: 3 }],
      receivers: [receiver],
    });
    // The notebook way: record the receiver head's query *input* in step 2, replace it in step 3.
    const zNames = [0, 1, 2].map((layer) => `blocks.${layer}.attn.hook_z`);
    const cleanRun = split.runWithCache(clean, { namesFilter: /hook_z$/ });
    const corruptedRun = split.runWithCache(corrupted, { namesFilter: /hook_z$/ });
    const mask = tf.tensor(
      [0, 1, 2, 3].map((h) => (h === 3 ? 1 : 0)),
      [1, 1, 4, 1],
      'bool',
    );
    const receiverMask = tf.tensor(
      [0, 1, 2, 3].map((h) => (h === 1 ? 1 : 0)),
      [1, 1, 4, 1],
      'bool',
    );
    let recorded: tf.Tensor | undefined;
    try {
      const freeze: HookSpec[] = zNames.map((name, layer) => [
        name,
        () =>
          layer === 0
            ? tf.where(mask, corruptedRun.cache.get(name), cleanRun.cache.get(name))
            : cleanRun.cache.get(name).clone(),
      ]);
      freeze.push([
        'blocks.2.hook_q_input',
        (input) => {
          recorded = tf.keep(input.clone());
        },
      ]);
      tf.dispose(split.runWithHooks(clean, freeze));
      const expected = await metricWithHooks(split, clean, [
        ['blocks.2.hook_q_input', (input) => tf.where(receiverMask, recorded!, input)],
      ]);
      expect(viaHooks.effect.get(0) + viaHooks.clean).toBeCloseTo(expected, 4);
      expect(Math.abs(viaHooks.effect.get(0))).toBeGreaterThan(1e-4);
    } finally {
      tf.dispose([cleanRun.logits, corruptedRun.logits, mask, receiverMask, recorded]);
      cleanRun.cache.dispose();
      corruptedRun.cache.dispose();
    }
  });

  it('a sender set is patched together (one value, labelled)', async () => {
    const senders: HeadRef[] = [
      { layer: 0, head: 1 },
      { layer: 1, head: 3 },
    ];
    const receivers: ReceiverHead[] = [{ layer: 2, head: 2, input: 'q' }];
    const result = await pathPatch(model, { clean, corrupted, metric: METRIC, senders, receivers });
    expect(result.effect.shape).toEqual([1]);
    expect(result.effect.labels).toEqual({ senders: ['0.1+1.3'] });
    const expected = await referencePathPatch(model, clean, corrupted, senders, receivers);
    expect(result.effect.get(0) + result.clean).toBeCloseTo(expected, 4);
  });

  it('receivers = resid_post: the last layer equals noising activation patching of each head', async () => {
    const result = await pathPatch(model, {
      clean,
      corrupted,
      metric: METRIC,
      senders: 'all-heads',
      receivers: 'resid_post',
    });
    const corruptedRun = model.runWithCache(corrupted, { namesFilter: /blocks\.2\.attn\.hook_z/ });
    try {
      const corruptedZ = corruptedRun.cache.get('blocks.2.attn.hook_z');
      for (let head = 0; head < 4; head++) {
        // Independent identity: in the last layer nothing is downstream to freeze, so path
        // patching to the end is ordinary (noising) patching of that head's z in the clean run.
        const mask = tf.tensor(
          [0, 1, 2, 3].map((h) => (h === head ? 1 : 0)),
          [1, 1, 4, 1],
          'bool',
        );
        const patched = await metricWithHooks(model, clean, [
          ['blocks.2.attn.hook_z', (z) => tf.where(mask, corruptedZ, z)],
        ]);
        mask.dispose();
        expect(result.effect.get(2, head) + result.clean).toBeCloseTo(patched, 4);
      }
      for (let head = 0; head < 4; head++) {
        const expected = await referencePathPatch(
          model,
          clean,
          corrupted,
          [{ layer: 0, head }],
          'end',
        );
        expect(result.effect.get(0, head) + result.clean).toBeCloseTo(expected, 4);
      }
    } finally {
      tf.dispose(corruptedRun.logits);
      corruptedRun.cache.dispose();
    }
    const logits = await pathPatch(model, {
      clean,
      corrupted,
      metric: METRIC,
      senders: [{ layer: 1, head: 1 }],
      receivers: 'logits',
    });
    expect(logits.effect.get(0)).toBeCloseTo(result.effect.get(1, 1), 5);
  });

  it('a function metric gives the same values as the declared one', async () => {
    const receivers: ReceiverHead[] = [{ layer: 2, head: 0, input: 'q' }];
    const declared = await pathPatch(model, {
      clean,
      corrupted,
      metric: METRIC,
      senders: 'all-heads',
      receivers,
    });
    const opaque = await pathPatch(model, {
      clean,
      corrupted,
      metric: (logits) => {
        const [batch, positions, vocab] = logits.shape as [number, number, number];
        const last = tf.slice(logits, [0, positions - 1, 0], [batch, 1, vocab]);
        return METRIC.compute(tf.gather(last, [3, 7, 12, 20], 2));
      },
      senders: 'all-heads',
      receivers,
    });
    for (let i = 0; i < declared.effect.values.length; i++) {
      expect(opaque.effect.values[i]).toBeCloseTo(declared.effect.values[i]!, 5);
    }
  });

  it('leaves no tensors behind, also after an error and a cancellation', async () => {
    const before = tf.memory().numTensors;
    await pathPatch(model, {
      clean,
      corrupted,
      metric: METRIC,
      senders: 'all-heads',
      receivers: [{ layer: 2, head: 0, input: 'k' }],
    });
    expect(tf.memory().numTensors).toBe(before);
    await expect(
      pathPatch(model, {
        clean,
        corrupted,
        metric: () => tf.ones([2]),
        senders: 'all-heads',
        receivers: 'logits',
      }),
    ).rejects.toThrow(/one number/);
    expect(tf.memory().numTensors).toBe(before);
    const controller = new AbortController();
    await expect(
      pathPatch(model, {
        clean,
        corrupted,
        metric: METRIC,
        senders: 'all-heads',
        receivers: 'logits',
        batchSize: 1,
        signal: controller.signal,
        onProgress: (done) => {
          if (done >= 2) controller.abort();
        },
      }),
    ).rejects.toSatisfy((error: unknown) => AbortError.isInstance(error));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('pathPatch input checks', () => {
  let model: GPT2;
  let clean: tf.Tensor2D;
  beforeAll(async () => {
    await useBackend('cpu');
    model = modelFrom(TINY, 11);
    clean = tf.tensor2d(CLEAN, undefined, 'int32');
  });
  afterAll(() => {
    model?.dispose();
    clean?.dispose();
  });

  it.each([
    [
      { senders: [{ layer: 3, head: 0 }] },
      /sender \{"layer":3,"head":0\} is not a head.*layer: 0\.\.2/,
    ],
    [{ senders: [] }, /senders must be 'all-heads' or a non-empty list/],
    [{ receivers: [{ layer: 0, head: 4, input: 'q' }] }, /receiver .* is not a head.*head: 0\.\.3/],
    [{ receivers: [{ layer: 0, head: 1, input: 'z' }] }, /needs input 'q', 'k' or 'v'/],
    [{ receivers: 'resid_mid' }, /receivers must be 'resid_post', 'logits' or/],
    [{ batchSize: 0 }, /batchSize must be a positive integer/],
  ])('rejects %j', async (change, message) => {
    const before = tf.memory().numTensors;
    const options = {
      clean,
      corrupted: clean,
      metric: METRIC,
      senders: 'all-heads' as const,
      receivers: 'logits' as const,
      ...change,
    };
    await expect(pathPatch(model, options as never)).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && message.test(String(error)),
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses prompts on which the metric does not differ', async () => {
    await expect(
      pathPatch(model, {
        clean,
        corrupted: clean,
        metric: METRIC,
        senders: 'all-heads',
        receivers: 'logits',
      }),
    ).rejects.toThrow(/on both the clean and the corrupted prompt/);
  });
});

describe.each(TEST_BACKENDS)('getActPatchDirectPath on %s', (backend) => {
  let model: GPT2;
  let corrupted: tf.Tensor2D;
  let cleanCache: ReturnType<GPT2['runWithCache']>['cache'];
  let corruptedCache: ReturnType<GPT2['runWithCache']>['cache'];
  beforeAll(async () => {
    await useBackend(backend);
    model = modelFrom(TINY, 13);
    const clean = tf.tensor2d(CLEAN, undefined, 'int32');
    corrupted = tf.tensor2d(CORRUPTED, undefined, 'int32');
    const cleanRun = model.runWithCache(clean);
    const corruptedRun = model.runWithCache(corrupted);
    tf.dispose([clean, cleanRun.logits, corruptedRun.logits]);
    cleanCache = cleanRun.cache;
    corruptedCache = corruptedRun.cache;
  });
  afterAll(() => {
    cleanCache?.dispose();
    corruptedCache?.dispose();
    corrupted?.dispose();
    model?.dispose();
  });

  /** TransformerLens's loop, written plainly: one pass per destination head on the corrupted tokens. */
  async function referenceDirectPath(
    srcLayer: number,
    srcHead: number,
    dstLayer: number,
    dstHead: number,
    component: 'q' | 'k' | 'v',
  ): Promise<number> {
    const stateDict = model.stateDict();
    try {
      const delta = tf.tidy(() => {
        const W_O = stateDict.get(`blocks.${srcLayer}.attn.W_O`)!.arraySync() as number[][][];
        const W = stateDict
          .get(`blocks.${dstLayer}.attn.W_${component.toUpperCase()}`)!
          .arraySync() as number[][][];
        const zc = cleanCache.get(`blocks.${srcLayer}.attn.hook_z`).arraySync() as number[][][][];
        const zk = corruptedCache
          .get(`blocks.${srcLayer}.attn.hook_z`)
          .arraySync() as number[][][][];
        const scale = corruptedCache
          .get(`blocks.${dstLayer}.ln1.hook_scale`)
          .arraySync() as number[][][];
        return zc.map((row, b) =>
          row.map((position, p) => {
            const resid = W_O[srcHead]![0]!.map((_, d) => {
              let sum = 0;
              for (let e = 0; e < W_O[srcHead]!.length; e++) {
                sum += (position[srcHead]![e]! - zk[b]![p]![srcHead]![e]!) * W_O[srcHead]![e]![d]!;
              }
              return sum / scale[b]![p]![0]!;
            });
            return W[dstHead]![0]!.map((_, j) =>
              resid.reduce((sum, value, d) => sum + value * W[dstHead]![d]![j]!, 0),
            );
          }),
        );
      });
      return await metricWithHooks(model, corrupted, [
        [
          `blocks.${dstLayer}.attn.hook_${component}`,
          (activation) => {
            const values = activation.arraySync() as number[][][][];
            for (const [b, row] of values.entries()) {
              for (const [p, position] of row.entries()) {
                position[dstHead] = position[dstHead]!.map((v, j) => v + delta[b]![p]![j]!);
              }
            }
            return tf.tensor(values);
          },
        ],
      ]);
    } finally {
      tf.dispose([...stateDict.values()]);
    }
  }

  it.each(['q', 'k', 'v'] as const)(
    'equals the one-pass-per-head loop for component %s; entries at or before the source layer are 0',
    async (component) => {
      const before = tf.memory().numTensors;
      const result = await getActPatchDirectPath(
        model,
        corrupted,
        cleanCache,
        corruptedCache,
        METRIC,
        {
          srcLayer: 0,
          srcHead: 2,
          component,
        },
      );
      expect(tf.memory().numTensors).toBe(before);
      expect(result.shape).toEqual([3, 4]);
      expect(result.axes).toEqual(['layer', 'head']);
      for (let head = 0; head < 4; head++) expect(result.get(0, head)).toBe(0);
      for (const [layer, head] of [
        [1, 0],
        [1, 3],
        [2, 1],
      ] as const) {
        const expected = await referenceDirectPath(0, 2, layer, head, component);
        expect(result.get(layer, head)).toBeCloseTo(expected, 4);
      }
    },
  );

  it('all sources stack the single-source results, zero where dst_layer <= src_layer', async () => {
    const all = await getActPatchDirectPathAllSources(
      model,
      corrupted,
      cleanCache,
      corruptedCache,
      METRIC,
    );
    expect(all.shape).toEqual([3, 4, 3, 4]);
    const single = await getActPatchDirectPath(
      model,
      corrupted,
      cleanCache,
      corruptedCache,
      METRIC,
      {
        srcLayer: 1,
        srcHead: 3,
      },
    );
    for (let layer = 0; layer < 3; layer++) {
      for (let head = 0; head < 4; head++) {
        expect(all.get(1, 3, layer, head)).toBeCloseTo(single.get(layer, head), 5);
        expect(all.get(2, head, layer, head)).toBe(0);
      }
    }
  });
});

describe('getActPatchDirectPath checks', () => {
  beforeAll(() => useBackend('cpu'));

  it('refuses unfolded LayerNorm weights unless allowed, and missing cache entries', async () => {
    using raw = modelFrom(TINY, 13, () => {}, false);
    const corrupted = tf.tensor2d(CORRUPTED, undefined, 'int32');
    const { logits, cache } = raw.runWithCache(corrupted);
    const partial = raw.runWithCache(corrupted, { namesFilter: /hook_z$/ });
    try {
      const before = tf.memory().numTensors;
      await expect(
        getActPatchDirectPath(raw, corrupted, cache, cache, METRIC, { srcLayer: 0, srcHead: 0 }),
      ).rejects.toThrow(/ln1\.w is not folded.*allowUnfoldedLayerNorm/);
      expect(tf.memory().numTensors).toBe(before);
      const allowed = await getActPatchDirectPath(raw, corrupted, cache, cache, METRIC, {
        srcLayer: 0,
        srcHead: 0,
        allowUnfoldedLayerNorm: true,
      });
      // clean == corrupted cache: the delta is zero, every later head gives the corrupted metric
      const corruptedMetric = await scalar(
        tf.tidy(() => {
          const last = tf.slice(logits, [0, 5, 0], [2, 1, 40]);
          return METRIC.compute(tf.gather(last, [3, 7, 12, 20], 2)) as tf.Tensor;
        }),
      );
      expect(allowed.get(1, 2)).toBeCloseTo(corruptedMetric, 5);
      await expect(
        getActPatchDirectPath(raw, corrupted, partial.cache, partial.cache, METRIC, {
          srcLayer: 0,
          srcHead: 0,
          allowUnfoldedLayerNorm: true,
        }),
      ).rejects.toThrow(/corruptedCache has no "blocks\.1\.ln1\.hook_scale"/);
      await expect(
        getActPatchDirectPath(raw, corrupted, cache, cache, METRIC, { srcLayer: 0, srcHead: 4 }),
      ).rejects.toThrow(/srcHead 0\.\.3/);
    } finally {
      tf.dispose([corrupted, logits, partial.logits]);
      cache.dispose();
      partial.cache.dispose();
    }
  });
});

describe('direct path patching vs full path patching through one LayerNorm', () => {
  // Two layers; MLP 0 writes a constant (W_out = 0), so the only path from a layer-0 head into a
  // layer-1 head's query is the direct one, through layer 1's LayerNorm. The corrupted prompt's
  // differing token has an embedding EPSILON away from the clean one. With layer 1's LayerNorm
  // scale held at the clean run's value (a hook on ln1.hook_scale), full path patching is linear in
  // the sender's contribution up to the attention read-out, so to first order
  //   pathPatch effect (clean run, sender corrupted) = -(directPath - corruptedMetric),
  // with an error O(EPSILON) relative to the effect.
  const EPSILON = 1e-2;
  const INPUT: GPT2ConfigInput = { nLayers: 2, nHeads: 4, dModel: 32, dVocab: 40, nCtx: 16 };

  it('agrees to first order for every (sender, receiver) pair', async () => {
    await useBackend('cpu');
    using model = modelFrom(INPUT, 21, (tensors) => {
      tensors.get('h.0.mlp.c_proj.weight')!.data.fill(0);
      const wte = tensors.get('wte.weight')!;
      const dModel = 32;
      for (let d = 0; d < dModel; d++) {
        wte.data[35 * dModel + d] = wte.data[33 * dModel + d]! + EPSILON * Math.sin(7 * d + 1);
      }
    });
    const clean = tf.tensor2d([CLEAN[0]!], undefined, 'int32');
    const corrupted = tf.tensor2d([CORRUPTED[0]!], undefined, 'int32');
    const metric = logitDiff({ answers: 12, wrong: 20 });
    const cleanRun = model.runWithCache(clean);
    const corruptedRun = model.runWithCache(corrupted);
    const cleanScale = cleanRun.cache.get('blocks.1.ln1.hook_scale');
    let freezeScale: { remove(): void } | undefined;
    try {
      const corruptedMetric = await scalar(
        tf.tidy(() => {
          const last = tf.slice(corruptedRun.logits, [0, 5, 0], [1, 1, 40]);
          return metric.compute(tf.gather(last, [12, 20], 2)) as tf.Tensor;
        }),
      );
      const direct = [];
      for (let srcHead = 0; srcHead < 4; srcHead++) {
        direct.push(
          await getActPatchDirectPath(
            model,
            corrupted,
            cleanRun.cache,
            corruptedRun.cache,
            metric,
            {
              srcLayer: 0,
              srcHead,
              component: 'q',
            },
          ),
        );
      }
      freezeScale = model.hooks.add('blocks.1.ln1.hook_scale', (scale) =>
        tf.tile(cleanScale, [scale.shape[0]!, 1, 1]),
      );
      let compared = 0;
      for (let srcHead = 0; srcHead < 4; srcHead++) {
        for (let dstHead = 0; dstHead < 4; dstHead++) {
          const full = await pathPatch(model, {
            clean,
            corrupted,
            metric,
            senders: [{ layer: 0, head: srcHead }],
            receivers: [{ layer: 1, head: dstHead, input: 'q' }],
          });
          const linear = -(direct[srcHead]!.get(1, dstHead) - corruptedMetric);
          const effect = full.effect.get(0);
          expect(Math.abs(effect - linear)).toBeLessThanOrEqual(0.05 * Math.abs(linear) + 1e-5);
          if (Math.abs(linear) > 5e-4) compared++;
        }
      }
      expect(compared).toBeGreaterThanOrEqual(6); // the comparison is not between zeros
    } finally {
      freezeScale?.remove();
      tf.dispose([clean, corrupted, cleanRun.logits, corruptedRun.logits]);
      cleanRun.cache.dispose();
      corruptedRun.cache.dispose();
    }
  });
});
