import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GPT2 } from '@patchlens/models-gpt2';
import {
  logitDiff,
  normalizedMetric,
  PATCHING_FUNCTIONS,
  type PatchResult,
  type PatchRun,
  patchRunJson,
  preparePatching,
} from '@patchlens/patching';
import { TokenizationError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  checkOutputFile,
  checkOutputFolder,
  createOutputFolder,
  writeAtomically,
} from './output-paths.js';
import { PATCH_USAGE, type PatchArguments, parsePatchArguments } from './patch-options.js';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { resultsArrow, resultsCSV } from './results-table.js';
import { UsageError } from './usage-error.js';

const quote = (text: string) => JSON.stringify(text);

/**
 * Token id lists of the clean and corrupted prompts, checked against the model: equal lengths,
 * within the context (`n_positions`) and the vocabulary, and not all identical.
 */
function promptTokens(
  model: GPT2,
  args: PatchArguments,
): { clean: number[][]; corrupted: number[][] } {
  const { prompts, prependBos } = args;
  const [cleanFlag, corruptedFlag] =
    prompts.kind === 'text' ? ['--clean', '--corrupted'] : ['--clean-ids', '--corrupted-ids'];
  const encode = (prompt: string | number[]) => {
    if (typeof prompt !== 'string') return prompt;
    const tokens = model.toTokens(prompt, { prependBos });
    try {
      return Array.from(tokens.dataSync());
    } finally {
      tokens.dispose();
    }
  };
  const show = (ids: number[]) => JSON.stringify(model.toStrTokens(ids));
  const { nCtx, dVocab } = model.config;
  const result = { clean: [] as number[][], corrupted: [] as number[][] };
  prompts.clean.forEach((cleanPrompt, index) => {
    const number = index + 1;
    const cleanTokens = encode(cleanPrompt);
    const corruptedTokens = encode(prompts.corrupted[index]!);
    for (const [flag, tokens] of [
      [cleanFlag, cleanTokens],
      [corruptedFlag, corruptedTokens],
    ] as const) {
      const outside = tokens.find((id) => id >= dVocab);
      if (outside !== undefined) {
        throw new UsageError(
          `patchlens patch: prompt ${number}'s ${flag} has token id ${outside}, but the model's vocabulary (vocab_size in config.json) has ids 0 to ${dVocab - 1}.`,
        );
      }
      if (tokens.length > nCtx) {
        throw new UsageError(
          `patchlens patch: prompt ${number}'s ${flag} has ${tokens.length} tokens, more than the model's context of ${nCtx} positions (n_positions in config.json); shorten the prompt.`,
        );
      }
      if (tokens.length === 0) {
        throw new UsageError(
          `patchlens patch: prompt ${number}'s ${flag} has no tokens; give some text (or drop --no-prepend-bos).`,
        );
      }
    }
    if (cleanTokens.length !== corruptedTokens.length) {
      throw new UsageError(
        `patchlens patch: prompt ${number} has ${cleanTokens.length} clean tokens ${show(cleanTokens)} but ${corruptedTokens.length} corrupted tokens ${show(corruptedTokens)}; clean and corrupted prompts must have the same number of tokens.`,
      );
    }
    const first = result.clean[0];
    if (first && first.length !== cleanTokens.length) {
      throw new UsageError(
        `patchlens patch: prompt 1 has ${first.length} tokens but prompt ${number} has ${cleanTokens.length} ${show(cleanTokens)}; every prompt of a batch must have the same number of tokens.`,
      );
    }
    result.clean.push(cleanTokens);
    result.corrupted.push(corruptedTokens);
  });
  const identical = result.clean.every((tokens, index) =>
    tokens.every((id, position) => id === result.corrupted[index]![position]),
  );
  if (identical) {
    throw new UsageError(
      `patchlens patch: the clean and corrupted prompts are the same tokens, so patching cannot change anything; the corrupted prompt should differ where the answer is decided (e.g. swap the names).`,
    );
  }
  return result;
}

/** `--answer`/`--wrong` values as token ids: decimal integers are ids, anything else must be one token. */
function answerIds(model: GPT2, flag: string, values: readonly string[]): number[] {
  return values.map((value) => {
    if (/^\d+$/.test(value)) {
      const id = Number(value);
      if (id >= model.config.dVocab) {
        throw new UsageError(
          `patchlens patch: --${flag} ${value} is not a token id of the model (vocab_size ${model.config.dVocab}: ids 0 to ${model.config.dVocab - 1}).`,
        );
      }
      return id;
    }
    try {
      return model.toSingleToken(value);
    } catch (error) {
      if (error instanceof TokenizationError) {
        throw new UsageError(`patchlens patch: --${flag} ${error.message}`, { cause: error });
      }
      throw error;
    }
  });
}

/** Throws when some prompt's answer and wrong token are the same (its logit difference is always 0). */
function checkAnswersDiffer(
  model: GPT2,
  answers: readonly number[],
  wrong: readonly number[],
  batch: number,
) {
  for (let index = 0; index < batch; index++) {
    const answer = answers[answers.length === 1 ? 0 : index]!;
    if (answer === wrong[wrong.length === 1 ? 0 : index]) {
      throw new UsageError(
        `patchlens patch: --answer and --wrong are the same token (${quote(model.toStrTokens([answer])[0] ?? '')}, id ${answer})${batch > 1 ? ` for prompt ${index + 1}` : ''}, so the logit difference is 0 whatever is patched; --wrong should be the competing answer (e.g. the other name).`,
      );
    }
  }
}

/**
 * `patchlens patch`: runs the chosen patching sweeps on a checkpoint and writes their results
 * (JSON layout of the CLI spec, or CSV / Arrow), plus one heatmap per sweep with `--svg`.
 * Output paths are checked before the model is loaded; files are written whole or not at all.
 */
export async function patchCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const args = parsePatchArguments(argv);
  if (args === 'help') {
    io.stdout.write(`${PATCH_USAGE}\n`);
    return;
  }
  if (args.out !== undefined) {
    await checkOutputFile(`patchlens patch: --out ${quote(args.out)}`, args.out);
  }
  if (args.svg !== undefined) {
    await checkOutputFolder(
      `patchlens patch: --svg ${quote(args.svg)}`,
      args.svg,
      args.names.map((name) => `${name}.svg`),
    );
  }

  const { loadModel } = await import('./load-model.js');
  const { backend: backendName, model } = await loadModel(io, args.source, {
    backend: args.backend,
    processWeights: args.processWeights,
  });
  try {
    const tokens = promptTokens(model, args);
    const batch = tokens.clean.length;
    const answers = answerIds(model, 'answer', args.answer);
    const wrong = answerIds(model, 'wrong', args.wrong);
    checkAnswersDiffer(model, answers, wrong, batch);
    const rawMetric = logitDiff({ answers, wrong });
    const cleanTokens = tf.tensor2d(tokens.clean, undefined, 'int32');
    const corruptedTokens = tf.tensor2d(tokens.corrupted, undefined, 'int32');
    try {
      using prepared = await preparePatching(model, cleanTokens, corruptedTokens, rawMetric);
      const metric =
        args.metric === 'normalized-logit-diff' ? normalizedMetric(rawMetric, prepared) : rawMetric;
      const results: Record<string, PatchResult> = {};
      for (const name of args.names) {
        const sweep = PATCHING_FUNCTIONS[name];
        results[name] = await sweep(model, corruptedTokens, prepared.cleanCache, metric, {
          engine: args.engine,
          onProgress: progressReporter(io, name),
        });
      }
      const run: PatchRun = {
        model: model.config,
        backend: backendName,
        tokens,
        metric: { name: args.metric, clean: prepared.clean, corrupted: prepared.corrupted },
        results,
      };
      const tokenStrings = model.toStrTokens(tokens.clean[0]!);
      await writeResults(io, args, run, tokenStrings);
      if (args.svg !== undefined) {
        await writeHeatmaps(io, args, run, tokenStrings);
        io.stderr.write(`heatmaps: ${args.svg}\n`);
      }
    } finally {
      cleanTokens.dispose();
      corruptedTokens.dispose();
    }
  } finally {
    model.dispose();
  }
}

async function writeResults(
  io: CommandIO,
  args: PatchArguments,
  run: PatchRun,
  tokens: readonly string[],
) {
  const context = { clean: run.metric.clean, corrupted: run.metric.corrupted, tokens };
  let content: string | Uint8Array;
  if (args.format === '.csv') content = resultsCSV(run.results, context);
  else if (args.format === '.arrow') content = resultsArrow(run.results, context);
  else content = `${JSON.stringify(patchRunJson(run))}\n`;
  if (args.out === undefined) {
    io.stdout.write(content);
    return;
  }
  await writeAtomically(`patchlens patch: --out ${quote(args.out)}`, args.out, (temporary) =>
    writeFile(temporary, content),
  );
  io.stderr.write(`results: ${args.out}\n`);
}

async function writeHeatmaps(
  io: CommandIO,
  args: PatchArguments,
  run: PatchRun,
  tokens: readonly string[],
) {
  const directory = args.svg!;
  const where = `patchlens patch: --svg ${quote(directory)}`;
  const { patchHeatmap, NORMALIZED_SCALE } = await import('@patchlens/viz');
  const { clean, corrupted } = run.metric;
  const baselines = `clean logit diff ${clean.toPrecision(4)}, corrupted ${corrupted.toPrecision(4)}`;
  const alreadyNormalized = args.metric === 'normalized-logit-diff';
  const canNormalize = Math.abs(clean - corrupted) > 1e-6;
  const normalize = args.svgValues === 'normalized' && !alreadyNormalized && canNormalize;
  if (args.svgValues === 'normalized' && !alreadyNormalized && !canNormalize) {
    io.stderr.write(
      `heatmaps: the clean and corrupted logit differences are equal (${clean}), so the heatmaps show raw values.\n`,
    );
  }
  await createOutputFolder(where, directory);
  for (const [name, result] of Object.entries(run.results)) {
    const normalized = normalize || alreadyNormalized;
    const drawn = normalize
      ? {
          values: result.values.map((value) => (value - corrupted) / (clean - corrupted)),
          shape: result.shape,
          axes: result.axes,
          ...(result.labels === undefined ? {} : { labels: result.labels }),
        }
      : result;
    const figure = patchHeatmap(drawn, {
      tokens: [...tokens],
      title: `${name}`,
      subtitle: normalized
        ? `(patched - corrupted) / (clean - corrupted): 1 = clean restored, 0 = no effect; ${baselines}`
        : `raw ${args.metric}, white = the corrupted run (${corrupted.toPrecision(4)}); ${baselines}`,
      valueLabel: normalized ? 'restored' : args.metric,
      cellValues: result.axes.length === 2 && result.values.length <= 100,
      ...(normalized ? NORMALIZED_SCALE : { midpoint: corrupted }),
    });
    const svg = await figure.toSVG();
    await writeAtomically(where, join(directory, `${name}.svg`), (temporary) =>
      writeFile(temporary, svg),
    );
  }
}
