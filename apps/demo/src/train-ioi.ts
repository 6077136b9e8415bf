// `pnpm --filter @patchlens/demo train-ioi [-- --steps 1500 --out model]`: train the bundled IOI
// model, write it as a Hugging Face GPT-2 checkpoint (config.json + model.safetensors, F16), load it
// back through @patchlens/models-gpt2, evaluate it and write its model card (README.md).

import { mkdir, stat, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '@patchlens/backends/node';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { GPT2Tokenizer, gpt2ConfigToHuggingFace } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { writeTfTensors } from '@patchlens/safetensors/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateIoiSplits, IOI_EVALUATION_SEED } from './ioi/ioi-evaluation.js';
import { createIoiSplits } from './ioi/ioi-splits.js';
import { ioiModelCard } from './training/ioi-model-card.js';
import { IOI_TRAINING_DEFAULTS } from './training/ioi-training-options.js';
import { ioiCheckpointTensors, trainIoiModel } from './training/train-ioi-model.js';
import { registerWasmTransposedMatMul } from './training/wasm-transposed-matmul.js';

const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string' },
    'batch-size': { type: 'string' },
    'learning-rate': { type: 'string' },
    layers: { type: 'string' },
    heads: { type: 'string' },
    'd-model': { type: 'string' },
    'freeze-names': { type: 'boolean' },
    'train-names': { type: 'boolean' },
    'word-noise': { type: 'string' },
    'pseudo-names': { type: 'string' },
    'pseudo-name-rate': { type: 'string' },
    'log-every': { type: 'string' },
    'eval-count': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean' },
  },
});

if (flags.help) {
  console.log(`train-ioi: train the bundled IOI model and write it with its model card.
  --steps N  --batch-size N  --learning-rate X  --layers N  --heads N  --d-model N
  --freeze-names | --train-names   (keep name embeddings at their initialisation, or train them)
  --word-noise P   (probability of replacing a template word by a random one)
  --pseudo-names N --pseudo-name-rate P   (name stand-ins with frozen embeddings, share of prompts)
  --log-every N  --eval-count N (prompts per split, default 1000)
  --out DIR   (default: packages/ioi-model/model)`);
  process.exit(0);
}

function integer(flag: string | undefined, fallback: number): number {
  return flag === undefined ? fallback : Number.parseInt(flag, 10);
}

const started = performance.now();
const backend = await initNodeBackend('wasm');
registerWasmTransposedMatMul();
const tokenizer = new GPT2Tokenizer();
const splits = createIoiSplits();
const options = {
  ...IOI_TRAINING_DEFAULTS,
  steps: integer(flags.steps, IOI_TRAINING_DEFAULTS.steps),
  batchSize: integer(flags['batch-size'], IOI_TRAINING_DEFAULTS.batchSize),
  learningRate:
    flags['learning-rate'] === undefined
      ? IOI_TRAINING_DEFAULTS.learningRate
      : Number(flags['learning-rate']),
  nLayers: integer(flags.layers, IOI_TRAINING_DEFAULTS.nLayers),
  nHeads: integer(flags.heads, IOI_TRAINING_DEFAULTS.nHeads),
  dModel: integer(flags['d-model'], IOI_TRAINING_DEFAULTS.dModel),
  freezeNameEmbeddings: flags['freeze-names']
    ? true
    : flags['train-names']
      ? false
      : IOI_TRAINING_DEFAULTS.freezeNameEmbeddings,
  wordNoise:
    flags['word-noise'] === undefined
      ? IOI_TRAINING_DEFAULTS.wordNoise
      : Number(flags['word-noise']),
  pseudoNameCount: integer(flags['pseudo-names'], IOI_TRAINING_DEFAULTS.pseudoNameCount),
  pseudoNameRate:
    flags['pseudo-name-rate'] === undefined
      ? IOI_TRAINING_DEFAULTS.pseudoNameRate
      : Number(flags['pseudo-name-rate']),
  logEvery: integer(flags['log-every'], IOI_TRAINING_DEFAULTS.logEvery),
};
const out = flags.out ? resolve(flags.out) : ioiModelFolder;
console.error(`train-ioi: backend ${backend}; writing to ${out}`);
console.error(`train-ioi: ${JSON.stringify(options)}`);

const result = trainIoiModel(options, tokenizer, (progress) => {
  console.error(
    `step ${String(progress.step).padStart(5)}/${options.steps}  loss ${progress.loss.toFixed(4)}  ` +
      `accuracy ${(100 * progress.accuracy).toFixed(1)}%  logit diff ${progress.meanLogitDifference.toFixed(2)}  ` +
      `lr ${progress.learningRate.toExponential(2)}  ${progress.seconds.toFixed(1)} s`,
  );
});
console.error(`train-ioi: trained in ${result.seconds.toFixed(1)} s`);

await mkdir(out, { recursive: true });
const tensors = ioiCheckpointTensors(result);
const bytes = await writeTfTensors(tensors, { floatDtype: 'F16', metadata: { format: 'pt' } });
tf.dispose([...tensors.values()]);
const weightsPath = join(out, 'model.safetensors');
await writeFile(weightsPath, bytes);
await writeFile(
  join(out, 'config.json'),
  `${JSON.stringify({ ...gpt2ConfigToHuggingFace(result.config), _name_or_path: 'patchlens-ioi' }, null, 2)}\n`,
);
result.dispose();

const model = await loadGPT2FromFolder(out);
const evaluationCount = integer(flags['eval-count'], 1000);
const evaluations = evaluateIoiSplits(
  (tokens) =>
    tf.tidy(() =>
      tf.squeeze(model.forward(tokens, { unembed: { positions: [-1] } }), [1]),
    ) as tf.Tensor2D,
  splits,
  tokenizer,
  { count: evaluationCount },
);
model.dispose();
for (const [name, evaluation] of Object.entries(evaluations)) {
  console.error(
    `${name.padEnd(17)} accuracy ${(100 * evaluation.accuracy).toFixed(1)}%  mean logit diff ${evaluation.meanLogitDifference.toFixed(2)}  (${evaluation.count} prompts)`,
  );
}

const card = ioiModelCard({
  result,
  splits,
  evaluations,
  evaluationCount,
  evaluationSeed: IOI_EVALUATION_SEED,
  backend,
  checkpointBytes: (await stat(weightsPath)).size,
  machine: `${cpus().length} CPU cores shared with other work, Node ${process.version}`,
  pseudoNameExamples: result.vocabulary.pseudoNameIds
    .slice(0, 4)
    .map(
      (compactId) => tokenizer.toStr([result.vocabulary.tokenIds[compactId] as number]) as string,
    ),
});
await writeFile(join(out, 'README.md'), card);
console.error(
  `train-ioi: wrote ${out} (${((await stat(weightsPath)).size / 1e6).toFixed(2)} MB) in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
