import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { writeSafetensorsFile } from '@patchlens/safetensors/node';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGPT2Config, gpt2ConfigToHuggingFace } from './gpt2-config.js';
import { gpt2Forward } from './gpt2-forward.js';
import { loadGPT2FromFolder } from './node.js';
import { maxScaledError, toPlain } from './test-support/compare.js';
import { TINY_CONFIG, writeTinyCheckpoint } from './test-support/tiny-checkpoint.js';
import { toHuggingFaceTensors, weightsFromHuggingFace } from './weight-mapping.js';

const config = createGPT2Config(TINY_CONFIG);
const TOKENS = [
  [1, 7, 3, 9, 4, 7, 3, 9],
  [2, 8, 8, 1, 5, 8, 8, 1],
];

/** Mean next-token cross-entropy. */
function loss(variables: ReadonlyMap<string, tf.Tensor>, tokens: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logits = gpt2Forward(config, weightsFromHuggingFace(config, variables), tokens);
    const [B, P] = tokens.shape;
    const predicted = tf.slice(logits, [0, 0, 0], [B, P - 1, config.dVocab]); // [B, P-1, V]
    const targets = tf.oneHot(
      tf.reshape(tf.slice(tokens, [0, 1], [B, P - 1]), [-1]),
      config.dVocab,
    );
    const logProbs = tf.reshape(tf.logSoftmax(predicted), [-1, config.dVocab]);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, logProbs), 1))) as tf.Scalar;
  });
}

describe.each(TEST_BACKENDS)('training through gpt2Forward on %s', (backend) => {
  let checkpoint: Awaited<ReturnType<typeof writeTinyCheckpoint>>;
  let variables: Map<string, tf.Variable>;
  let tokens: tf.Tensor2D;

  beforeAll(async () => {
    await useBackend(backend);
    checkpoint = await writeTinyCheckpoint({ seed: 99 });
    variables = new Map(
      [...checkpoint.tensors].map(([name, tensor]) => [
        name,
        tf.variable(tf.tensor(tensor.data, tensor.shape), true, `${backend}/${name}`),
      ]),
    );
    tokens = tf.tensor2d(TOKENS, undefined, 'int32');
  });
  afterAll(() => {
    tf.dispose([...variables.values(), tokens]);
  });

  it('gradients with respect to Hugging Face-layout variables match finite differences', () => {
    const names = ['wte.weight', 'h.1.attn.c_attn.weight', 'h.0.ln_1.bias', 'ln_f.weight'];
    const { grads } = tf.variableGrads(
      () => loss(variables, tokens),
      names.map((n) => variables.get(n)!),
    );
    for (const name of names) {
      const variable = variables.get(name)!;
      const gradient = grads[variable.name]!.dataSync();
      // Largest gradient entry: check it against a central difference.
      let index = 0;
      for (let i = 0; i < gradient.length; i++)
        if (Math.abs(gradient[i]!) > Math.abs(gradient[index]!)) index = i;
      const original = variable.dataSync().slice();
      const step = 1e-2;
      const at = (delta: number) => {
        const values = original.slice();
        values[index]! += delta;
        variable.assign(tf.tensor(values, variable.shape));
        const value = loss(variables, tokens);
        const number = value.dataSync()[0]!;
        value.dispose();
        return number;
      };
      const difference = (at(step) - at(-step)) / (2 * step);
      variable.assign(tf.tensor(original, variable.shape));
      expect(Math.abs(gradient[index]!), name).toBeGreaterThan(1e-3);
      expect(Math.abs(difference - gradient[index]!), name).toBeLessThan(
        2e-3 + 1e-2 * Math.abs(difference),
      );
    }
    tf.dispose(Object.values(grads));
  });

  it('gradients flow through selective unembedding as through full logits', () => {
    const positions = [-1, 2];
    const tokenIds = [3, 7];
    const targets = ['wte.weight', 'h.1.mlp.c_proj.weight', 'ln_f.bias'].map(
      (n) => variables.get(n)!,
    );
    const selected = () =>
      tf.tidy(() => {
        const weights = weightsFromHuggingFace(config, variables);
        const logits = gpt2Forward(config, weights, tokens, {
          unembed: { positions, tokens: tokenIds },
        });
        return tf.sum(
          tf.mul(
            logits,
            tf.tensor3d([
              [
                [1, -2],
                [0.5, 3],
              ],
            ]),
          ),
        ) as tf.Scalar; // [1, 2, 2] weights
      });
    const sliced = () =>
      tf.tidy(() => {
        const logits = gpt2Forward(config, weightsFromHuggingFace(config, variables), tokens);
        const at = (position: number, token: number) =>
          tf.sum(tf.slice(logits, [0, position, token], [-1, 1, 1]));
        const [last, second] = [TOKENS[0]!.length - 1, 2];
        return tf.addN([
          at(last, 3),
          tf.mul(at(last, 7), -2),
          tf.mul(at(second, 3), 0.5),
          tf.mul(at(second, 7), 3),
        ]) as tf.Scalar;
      });
    const before = tf.memory().numTensors;
    const a = tf.variableGrads(selected, targets);
    const b = tf.variableGrads(sliced, targets);
    expect(a.value.dataSync()[0]!).toBeCloseTo(b.value.dataSync()[0]!, 4);
    for (const variable of targets) {
      expect(
        maxScaledError(a.grads[variable.name]!, toPlain(b.grads[variable.name]!)),
        variable.name,
      ).toBeLessThan(1e-5);
    }
    tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a few SGD steps lower the loss and leak nothing', () => {
    const optimizerVariables = [...variables.values()];
    const initial = loss(variables, tokens);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => loss(variables, tokens), optimizerVariables);
        for (const variable of optimizerVariables) {
          variable.assign(tf.sub(variable, tf.mul(grads[variable.name]!, 0.05)));
        }
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    const after = loss(variables, tokens);
    expect(after.dataSync()[0]!).toBeLessThan(initial.dataSync()[0]!);
    tf.dispose([initial, after]);
  });

  it('toHuggingFaceTensors writes a checkpoint that loads back to the same logits', async () => {
    const weights = weightsFromHuggingFace(config, variables);
    const hfTensors = toHuggingFaceTensors(weights);
    tf.dispose([weights.W_U, weights.b_U]); // the rest is shared with the variables
    const plain = new Map(
      [...hfTensors].map(([name, tensor]) => [
        name,
        { shape: tensor.shape, data: tensor.dataSync() as Float32Array },
      ]),
    );
    expect([...plain.keys()].sort()).toEqual([...checkpoint.tensors.keys()].sort());
    for (const [name, tensor] of hfTensors) {
      expect(tensor.shape, name).toEqual(checkpoint.tensors.get(name)!.shape);
    }
    tf.dispose([...hfTensors.values()]);
    await writeSafetensorsFile(join(checkpoint.folder, 'model.safetensors'), plain);
    await writeFile(
      join(checkpoint.folder, 'config.json'),
      JSON.stringify(gpt2ConfigToHuggingFace(config)),
    );
    const model = await loadGPT2FromFolder(checkpoint.folder, { processWeights: false });
    const expected = tf.tidy(() =>
      gpt2Forward(config, weightsFromHuggingFace(config, variables), tokens),
    );
    const logits = model.forward(tokens);
    expect(maxScaledError(logits, toPlain(expected))).toBe(0);
    tf.dispose([logits, expected]);
    model.dispose();
  });

  it('toHuggingFaceTensors refuses processed weights and untied unembeddings', async () => {
    const model = await loadGPT2FromFolder(checkpoint.folder);
    expect(() => toHuggingFaceTensors(model.weights)).toThrow(/folded LayerNorms/);
    model.dispose();
    const weights = weightsFromHuggingFace(config, variables);
    const untied = { ...weights, W_U: tf.mul(weights.W_U, 2) as tf.Tensor2D };
    expect(() => toHuggingFaceTensors(untied)).toThrow(/W_U is not W_E transposed/);
    const withHead = toHuggingFaceTensors(untied, { tieWordEmbeddings: false });
    expect(withHead.get('lm_head.weight')!.shape).toEqual([config.dVocab, config.dModel]);
    tf.dispose([...withHead.values(), weights.W_U, weights.b_U, untied.W_U]);
  });
});
