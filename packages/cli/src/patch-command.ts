import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  logitDiff,
  normalizedMetric,
  PATCHING_FUNCTION_NAMES,
  PATCHING_FUNCTIONS,
  type PatchResult,
  type PatchRun,
  patchRunJson,
  preparePatching,
} from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import { sweepsForModel } from './model-sweeps.js';
import {
  checkOutputFile,
  checkOutputFolder,
  createOutputFolder,
  writeAtomically,
} from './output-paths.js';
import { PATCH_USAGE, type PatchArguments, parsePatchArguments } from './patch-options.js';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { resolvePromptInputs, tokenLabels } from './prompt-inputs.js';
import { resultsArrow, resultsCSV } from './results-table.js';
import { type ScaleOut, startScaleOut } from './scale-out.js';

const quote = (text: string) => JSON.stringify(text);

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
    const names = sweepsForModel(
      'patch',
      '--patch',
      model.hookNames,
      args.names,
      PATCHING_FUNCTION_NAMES.length,
    );
    const { answers, wrong, ...tokens } = resolvePromptInputs('patch', model, args);
    const tokenStrings = tokenLabels(model, tokens.clean[0]!);
    const scaleOut = await startScaleOut(io, args.checkpoint, args.shard, {
      source: args.source,
      processWeights: args.processWeights,
      tokens,
      tokenStrings,
      metric: { name: args.metric, answers, wrong },
      sweeps: names,
    });
    const rawMetric = logitDiff({ answers, wrong });
    const cleanTokens = tf.tensor2d(tokens.clean, undefined, 'int32');
    const corruptedTokens = tf.tensor2d(tokens.corrupted, undefined, 'int32');
    try {
      using prepared = await preparePatching(model, cleanTokens, corruptedTokens, rawMetric);
      const metric =
        args.metric === 'normalized-logit-diff' ? normalizedMetric(rawMetric, prepared) : rawMetric;
      const results: Record<string, PatchResult> = {};
      for (const name of names) {
        const sweep = PATCHING_FUNCTIONS[name];
        results[name] = await sweep(model, corruptedTokens, prepared.cleanCache, metric, {
          engine: args.engine,
          workers: args.workers,
          ...(args.memoryBudgetBytes === undefined
            ? {}
            : { memoryBudgetBytes: args.memoryBudgetBytes }),
          onProgress: progressReporter(io, name),
          ...scaleOut.sweepOptions(name),
        });
      }
      const run: PatchRun = {
        model: model.config,
        backend: backendName,
        tokens,
        metric: { name: args.metric, clean: prepared.clean, corrupted: prepared.corrupted },
        results,
      };
      await writeResults(io, args, run, tokenStrings, scaleOut.document);
      if (args.svg !== undefined) {
        await writeHeatmaps(io, args, run, tokenStrings);
        io.stderr.write(`heatmaps: ${args.svg}\n`);
      }
    } finally {
      scaleOut.close();
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
  document: ScaleOut['document'],
) {
  const context = { clean: run.metric.clean, corrupted: run.metric.corrupted, tokens };
  let content: string | Uint8Array;
  if (args.format === '.csv') content = resultsCSV(run.results, context);
  else if (args.format === '.arrow') content = resultsArrow(run.results, context);
  else content = `${JSON.stringify(document(patchRunJson(run), run.results))}\n`;
  if (args.out === undefined) {
    io.stdout.write(content);
    return;
  }
  await writeAtomically(`patchlens patch: --out ${quote(args.out)}`, args.out, (temporary) =>
    writeFile(temporary, content),
  );
  io.stderr.write(`results: ${args.out}\n`);
}

/**
 * One SVG heatmap per result in `args.svg` (`<name>.svg`), normalised by the metric's clean and
 * corrupted values unless `args.svgValues` is `raw` (also used by `patchlens merge`).
 */
export async function writeHeatmaps(
  io: CommandIO,
  args: Pick<PatchArguments, 'svg' | 'svgValues' | 'metric'>,
  run: Pick<PatchRun, 'metric' | 'results'>,
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
