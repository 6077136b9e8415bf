import { mkdir, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { GPT2 } from '@patchlens/models-gpt2';
import {
  logitDiff,
  normalizedMetric,
  PATCHING_FUNCTIONS,
  type PatchingFunctionName,
  type PatchResult,
  type PatchRun,
  patchResultsToArrow,
  patchResultsToCSV,
  patchRunJson,
  preparePatching,
  resolvePatchingNames,
} from '@patchlens/patching';
import { TokenizationError } from '@patchlens/tensor-hooks';
import { patchHeatmap } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import {
  backendPreference,
  COMMON_OPTIONS,
  parseCommandLine,
  parseIdList,
  requireModel,
} from './command-line.js';
import { loadModel } from './load-model.js';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { UsageError } from './usage-error.js';

const PATCH_OPTIONS = {
  ...COMMON_OPTIONS,
  clean: { type: 'string', multiple: true },
  corrupted: { type: 'string', multiple: true },
  'clean-ids': { type: 'string', multiple: true },
  'corrupted-ids': { type: 'string', multiple: true },
  'no-prepend-bos': { type: 'boolean', default: false },
  answer: { type: 'string', multiple: true },
  wrong: { type: 'string', multiple: true },
  metric: { type: 'string', default: 'logit-diff' },
  patch: { type: 'string', default: 'all' },
  engine: { type: 'string', default: 'fast' },
  workers: { type: 'string', default: 'auto' },
  'memory-budget': { type: 'string' },
  out: { type: 'string' },
  svg: { type: 'string' },
} as const;

/** Usage text of `patchlens patch`. */
export const PATCH_USAGE = `patchlens patch --model M
  (--clean TEXT --corrupted TEXT | --clean-ids 5,17,42 --corrupted-ids 5,17,43)   repeatable: one per prompt
  [--no-prepend-bos] --answer TOKEN|ID --wrong TOKEN|ID   repeatable: one per prompt, or one for all
  [--metric logit-diff|normalized-logit-diff] [--patch all|resid_pre,attn_head_out_by_pos,...]
  [--engine fast|reference] [--workers N|auto] [--memory-budget MIB] [--out FILE.json|.csv|.arrow] [--svg DIR]
  [--backend auto|tensorflow|webgpu|wasm|cpu] [--no-process-weights]`;

const METRICS = ['logit-diff', 'normalized-logit-diff'] as const;
const OUTPUT_EXTENSIONS = ['.json', '.csv', '.arrow'];

/** Token id lists of the clean and corrupted prompts, checked pairwise for equal length. */
function promptTokens(
  model: GPT2,
  values: { clean?: string[]; corrupted?: string[]; cleanIds?: string[]; corruptedIds?: string[] },
  prependBos: boolean,
): { clean: number[][]; corrupted: number[][] } {
  const { clean, corrupted, cleanIds, corruptedIds } = values;
  const usesText = clean !== undefined || corrupted !== undefined;
  const usesIds = cleanIds !== undefined || corruptedIds !== undefined;
  if (usesText === usesIds) {
    throw new UsageError(
      'patchlens patch: give the prompts either as text (--clean TEXT --corrupted TEXT) or as ids (--clean-ids 5,17 --corrupted-ids 5,18), not both and not neither.',
    );
  }
  const cleanPrompts = usesText ? (clean ?? []) : (cleanIds ?? []);
  const corruptedPrompts = usesText ? (corrupted ?? []) : (corruptedIds ?? []);
  const [cleanFlag, corruptedFlag] = usesText
    ? ['clean', 'corrupted']
    : ['clean-ids', 'corrupted-ids'];
  if (cleanPrompts.length !== corruptedPrompts.length || cleanPrompts.length === 0) {
    throw new UsageError(
      `patchlens patch: got ${cleanPrompts.length} --${cleanFlag} and ${corruptedPrompts.length} --${corruptedFlag}; give one corrupted prompt per clean prompt (at least one pair).`,
    );
  }
  const encode = (flag: string, prompt: string) => {
    if (!usesText) return parseIdList(flag, prompt);
    const tokens = model.toTokens(prompt, { prependBos });
    try {
      return Array.from(tokens.dataSync());
    } finally {
      tokens.dispose();
    }
  };
  const show = (ids: number[]) => JSON.stringify(model.toStrTokens(ids));
  const result = { clean: [] as number[][], corrupted: [] as number[][] };
  cleanPrompts.forEach((cleanPrompt, index) => {
    const cleanTokens = encode(cleanFlag, cleanPrompt);
    const corruptedTokens = encode(corruptedFlag, corruptedPrompts[index]!);
    if (cleanTokens.length !== corruptedTokens.length) {
      throw new UsageError(
        `patchlens patch: prompt ${index} has ${cleanTokens.length} clean tokens ${show(cleanTokens)} but ${corruptedTokens.length} corrupted tokens ${show(corruptedTokens)}; clean and corrupted prompts must have the same number of tokens.`,
      );
    }
    const first = result.clean[0];
    if (first && first.length !== cleanTokens.length) {
      throw new UsageError(
        `patchlens patch: prompt 0 has ${first.length} tokens but prompt ${index} has ${cleanTokens.length} ${show(cleanTokens)}; every prompt of a batch must have the same number of tokens.`,
      );
    }
    result.clean.push(cleanTokens);
    result.corrupted.push(corruptedTokens);
  });
  return result;
}

/** `--answer`/`--wrong` values as token ids: decimal integers are ids, anything else must be one token. */
function answerIds(
  model: GPT2,
  flag: string,
  values: string[] | undefined,
  batch: number,
): number[] {
  if (!values || values.length === 0) {
    throw new UsageError(
      `patchlens patch: --${flag} is required (a single-token text like " Mary", or a token id).`,
    );
  }
  if (values.length !== 1 && values.length !== batch) {
    throw new UsageError(
      `patchlens patch: got ${values.length} --${flag} values for ${batch} prompts; give one for all prompts or one per prompt.`,
    );
  }
  return values.map((value) => {
    if (/^\d+$/.test(value)) return Number(value);
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

/** `--workers N|auto`: fast-engine worker threads (auto: one per core, limited by memory). */
function workerOption(value: string): number | 'auto' {
  if (value === 'auto') return value;
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1) {
    throw new UsageError(
      `patchlens patch: --workers "${value}" is not a positive integer or auto (one per core, limited by memory).`,
    );
  }
  return count;
}

/** `--memory-budget MIB`: memory one worker's batched passes may use, in MiB. */
function memoryBudgetOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const mebibytes = Number(value);
  if (!(mebibytes > 0) || !Number.isFinite(mebibytes)) {
    throw new UsageError(
      `patchlens patch: --memory-budget "${value}" is not a positive number of MiB (default 256).`,
    );
  }
  return mebibytes * 2 ** 20;
}

function outputFormat(out: string | undefined): string {
  if (out === undefined) return '.json';
  const extension = extname(out).toLowerCase();
  if (!OUTPUT_EXTENSIONS.includes(extension)) {
    throw new UsageError(`patchlens patch: --out "${out}" must end in .json, .csv or .arrow.`);
  }
  return extension;
}

/**
 * `patchlens patch`: runs the chosen patching sweeps on a checkpoint and writes their results
 * (JSON layout of the CLI spec, or CSV / Arrow), plus one heatmap per sweep with `--svg`.
 */
export async function patchCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const values = parseCommandLine('patch', argv, PATCH_OPTIONS);
  if (values.help) {
    io.stdout.write(`${PATCH_USAGE}\n`);
    return;
  }
  const source = requireModel('patch', values.model);
  const backend = backendPreference('patch', values.backend);
  if (!(METRICS as readonly string[]).includes(values.metric)) {
    throw new UsageError(
      `patchlens patch: --metric "${values.metric}" is not one of ${METRICS.join(', ')}.`,
    );
  }
  if (values.engine !== 'fast' && values.engine !== 'reference') {
    throw new UsageError(
      `patchlens patch: --engine "${values.engine}" is not one of fast, reference.`,
    );
  }
  const engine = values.engine;
  const workers = workerOption(values.workers);
  const memoryBudgetBytes = memoryBudgetOption(values['memory-budget']);
  const format = outputFormat(values.out);
  let names: PatchingFunctionName[];
  try {
    names = resolvePatchingNames(values.patch);
  } catch (error) {
    throw new UsageError(
      `patchlens patch: --patch: ${(error as Error).message.replace(/^resolvePatchingNames: /, '')}`,
      {
        cause: error,
      },
    );
  }

  const { backend: backendName, model } = await loadModel(io, source, {
    backend,
    processWeights: !values['no-process-weights'],
  });
  try {
    const tokens = promptTokens(
      model,
      {
        clean: values.clean,
        corrupted: values.corrupted,
        cleanIds: values['clean-ids'],
        corruptedIds: values['corrupted-ids'],
      },
      !values['no-prepend-bos'],
    );
    const batch = tokens.clean.length;
    const answers = answerIds(model, 'answer', values.answer, batch);
    const wrong = answerIds(model, 'wrong', values.wrong, batch);
    const rawMetric = logitDiff({ answers, wrong });
    const cleanTokens = tf.tensor2d(tokens.clean, undefined, 'int32');
    const corruptedTokens = tf.tensor2d(tokens.corrupted, undefined, 'int32');
    try {
      using prepared = await preparePatching(model, cleanTokens, corruptedTokens, rawMetric);
      const metric =
        values.metric === 'normalized-logit-diff'
          ? normalizedMetric(rawMetric, prepared)
          : rawMetric;
      const results: Record<string, PatchResult> = {};
      for (const name of names) {
        const sweep = PATCHING_FUNCTIONS[name];
        results[name] = await sweep(model, corruptedTokens, prepared.cleanCache, metric, {
          engine,
          workers,
          ...(memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes }),
          onProgress: progressReporter(io, name),
        });
      }
      await writeResults(io, values.out, format, {
        model: model.config,
        backend: backendName,
        tokens,
        metric: { name: values.metric, clean: prepared.clean, corrupted: prepared.corrupted },
        results,
      });
      if (values.svg !== undefined) {
        await writeHeatmaps(
          values.svg,
          results,
          model.toStrTokens(tokens.clean[0]!),
          values.metric,
        );
        io.stderr.write(`heatmaps: ${values.svg}\n`);
      }
    } finally {
      cleanTokens.dispose();
      corruptedTokens.dispose();
    }
  } finally {
    model.dispose();
  }
}

async function writeResults(io: CommandIO, out: string | undefined, format: string, run: PatchRun) {
  let content: string | Uint8Array;
  if (format === '.csv') content = patchResultsToCSV(run.results);
  else if (format === '.arrow') content = patchResultsToArrow(run.results);
  else content = `${JSON.stringify(patchRunJson(run))}\n`;
  if (out === undefined) io.stdout.write(content);
  else {
    await writeFile(out, content);
    io.stderr.write(`results: ${out}\n`);
  }
}

async function writeHeatmaps(
  directory: string,
  results: Record<string, PatchResult>,
  tokens: string[],
  metricName: string,
) {
  await mkdir(directory, { recursive: true });
  for (const [name, result] of Object.entries(results)) {
    const figure = patchHeatmap(result, {
      tokens,
      title: `${name} (${metricName})`,
      valueLabel: metricName,
    });
    await writeFile(join(directory, `${name}.svg`), await figure.toSVG());
  }
}
