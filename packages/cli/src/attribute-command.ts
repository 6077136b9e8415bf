import { writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { BackendPreference } from '@patchlens/backends';
import {
  attributionPatch,
  logitDiff,
  normalizedMetric,
  PATCHING_FUNCTIONS,
  type PatchResult,
  type PatchResultJson,
  patchRunJson,
  preparePatching,
  resolveAttributionKinds,
  SWEEP_NAMES,
  type SweepName,
} from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import {
  backendPreference,
  COMMON_OPTIONS,
  COMMON_USAGE,
  parseCommandLine,
  requireModel,
} from './command-line.js';
import { sweepsForModel } from './model-sweeps.js';
import {
  checkOutputFile,
  checkOutputFolder,
  createOutputFolder,
  writeAtomically,
} from './output-paths.js';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import {
  PROMPT_OPTIONS,
  PROMPT_USAGE,
  type PromptArguments,
  parsePromptArguments,
  resolvePromptInputs,
} from './prompt-inputs.js';
import { UsageError } from './usage-error.js';

const ATTRIBUTE_OPTIONS = {
  ...COMMON_OPTIONS,
  ...PROMPT_OPTIONS,
  metric: { type: 'string', default: 'logit-diff' },
  kinds: { type: 'string', default: 'all' },
  'with-exact': { type: 'boolean', default: false },
  out: { type: 'string' },
  svg: { type: 'string' },
} as const;

const METRICS = ['logit-diff', 'normalized-logit-diff'] as const;

/** Usage text of `patchlens attribute`. */
export const ATTRIBUTE_USAGE = `patchlens attribute --model M
${PROMPT_USAGE}
  [--metric logit-diff|normalized-logit-diff] [--kinds all|NAME,NAME,...] [--with-exact]
  [--out FILE.json] [--svg DIR]
${COMMON_USAGE}

  Attribution patching: one clean forward, one corrupted forward with gradients and one backward pass
  estimate every entry of each sweep (kind) as its (patched - corrupted) metric, with the exact sweep's
  names, axes and shapes. JSON (stdout or --out) is patch's layout with "attributions" for "patches";
  --with-exact also runs the exact sweeps ("patches") and reports the Pearson correlation of estimate
  and exact - corrupted per kind ("correlations"). --svg DIR: attribution_<kind>.svg (+ <kind>.svg).

Kinds (--kinds; default all): ${SWEEP_NAMES.join(', ')}`;

/** A checked `patchlens attribute` command line. */
interface AttributeArguments extends PromptArguments {
  readonly source: string;
  readonly backend: BackendPreference;
  readonly processWeights: boolean;
  readonly metric: (typeof METRICS)[number];
  readonly kinds: SweepName[];
  readonly withExact: boolean;
  readonly out: string | undefined;
  readonly svg: string | undefined;
}

/** What `patchlens attribute` writes as JSON (the `patch` layout with `attributions`). */
export interface AttributeRunJson extends Omit<ReturnType<typeof patchRunJson>, 'patches'> {
  /** The estimates by kind (same names, axes and shapes as the exact sweeps). */
  readonly attributions: Record<string, PatchResultJson>;
  /** With `--with-exact`: the exact sweeps. */
  readonly patches?: Record<string, PatchResultJson>;
  /** With `--with-exact`: Pearson correlation of estimate and (exact − corrupted) per kind. */
  readonly correlations?: Record<string, number>;
}

const quote = (text: string) => JSON.stringify(text);

function parseAttributeArguments(argv: readonly string[]): AttributeArguments | 'help' {
  const values = parseCommandLine('attribute', argv, ATTRIBUTE_OPTIONS);
  if (values.help) return 'help';
  const source = requireModel('attribute', values.model);
  const backend = backendPreference('attribute', values.backend);
  if (!(METRICS as readonly string[]).includes(values.metric)) {
    throw new UsageError(
      `patchlens attribute: --metric "${values.metric}" is not one of ${METRICS.join(', ')}.`,
    );
  }
  if (values.out !== undefined && extname(values.out).toLowerCase() !== '.json') {
    throw new UsageError(`patchlens attribute: --out "${values.out}" must end in .json.`);
  }
  let kinds: SweepName[];
  try {
    kinds = resolveAttributionKinds(values.kinds);
  } catch (error) {
    throw new UsageError(
      `patchlens attribute: --kinds: ${(error as Error).message.replace(/^attributionPatch: /, '')}`,
      { cause: error },
    );
  }
  return {
    source,
    backend,
    processWeights: !values['no-process-weights'],
    ...parsePromptArguments('attribute', values),
    metric: values.metric as (typeof METRICS)[number],
    kinds,
    withExact: values['with-exact'],
    out: values.out,
    svg: values.svg,
  };
}

/**
 * `patchlens attribute`: attribution patching (one clean forward, one corrupted forward with
 * gradients, one backward) for the chosen kinds; with `--with-exact` also the exact sweeps and the
 * correlation per kind; JSON on stdout or `--out`, heatmaps with `--svg`. Output paths are checked
 * before the model loads; files are written whole or not at all.
 */
export async function attributeCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const args = parseAttributeArguments(argv);
  if (args === 'help') {
    io.stdout.write(`${ATTRIBUTE_USAGE}\n`);
    return;
  }
  if (args.out !== undefined) {
    await checkOutputFile(`patchlens attribute: --out ${quote(args.out)}`, args.out);
  }
  if (args.svg !== undefined) {
    await checkOutputFolder(`patchlens attribute: --svg ${quote(args.svg)}`, args.svg, [
      ...args.kinds.map((kind) => `attribution_${kind}.svg`),
      ...(args.withExact ? args.kinds.map((kind) => `${kind}.svg`) : []),
    ]);
  }
  const { loadModel } = await import('./load-model.js');
  const { backend: backendName, model } = await loadModel(io, args.source, {
    backend: args.backend,
    processWeights: args.processWeights,
  });
  try {
    const kinds = sweepsForModel(
      'attribute',
      '--kinds',
      model.hookNames,
      args.kinds,
      SWEEP_NAMES.length,
    );
    const { answers, wrong, ...tokens } = resolvePromptInputs('attribute', model, args);
    const rawMetric = logitDiff({ answers, wrong });
    const cleanTokens = tf.tensor2d(tokens.clean, undefined, 'int32');
    const corruptedTokens = tf.tensor2d(tokens.corrupted, undefined, 'int32');
    try {
      using prepared = await preparePatching(model, cleanTokens, corruptedTokens, rawMetric);
      const metric =
        args.metric === 'normalized-logit-diff' ? normalizedMetric(rawMetric, prepared) : rawMetric;
      io.stderr.write(`attribution: ${kinds.length} kinds, one backward pass\n`);
      const { results, corrupted } = await attributionPatch(
        model,
        cleanTokens,
        corruptedTokens,
        metric,
        { kinds: kinds },
      );
      const exact: Record<string, PatchResult> = {};
      const correlations: Record<string, number> = {};
      if (args.withExact) {
        const { pearsonCorrelation } = await import('@patchlens/viz');
        for (const kind of kinds) {
          const result = await PATCHING_FUNCTIONS[kind](
            model,
            corruptedTokens,
            prepared.cleanCache,
            metric,
            { onProgress: progressReporter(io, kind) },
          );
          exact[kind] = result;
          const effects = result.values.map((value) => value - corrupted);
          correlations[kind] = pearsonCorrelation(results.get(kind)!.values, effects);
        }
      }
      const { patches, ...base } = patchRunJson({
        model: model.config,
        backend: backendName,
        tokens,
        metric: { name: args.metric, clean: prepared.clean, corrupted: prepared.corrupted },
        results: exact,
      });
      const json: AttributeRunJson = {
        ...base,
        attributions: Object.fromEntries(
          [...results].map(([kind, result]) => [kind, result.toJSON()]),
        ),
        ...(args.withExact ? { patches, correlations } : {}),
      };
      const content = `${JSON.stringify(json)}\n`;
      if (args.out === undefined) io.stdout.write(content);
      else {
        await writeAtomically(`patchlens attribute: --out ${quote(args.out)}`, args.out, (path) =>
          writeFile(path, content),
        );
        io.stderr.write(`results: ${args.out}\n`);
      }
      if (args.svg !== undefined) {
        const tokenTexts = model.toStrTokens(tokens.clean[0]!);
        const figures: [string, PatchResult, string][] = [
          ...[...results].map(
            ([kind, result]) =>
              [
                `attribution_${kind}`,
                result,
                `estimated (patched - corrupted) ${args.metric}, white = no change`,
              ] as [string, PatchResult, string],
          ),
          ...Object.entries(exact).map(
            ([kind, result]) =>
              [kind, result, `exact ${args.metric}`] as [string, PatchResult, string],
          ),
        ];
        await writeHeatmaps(args.svg, figures, tokenTexts, corrupted);
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

async function writeHeatmaps(
  directory: string,
  figures: readonly [string, PatchResult, string][],
  tokens: readonly string[],
  corrupted: number,
) {
  const where = `patchlens attribute: --svg ${quote(directory)}`;
  const { patchHeatmap } = await import('@patchlens/viz');
  await createOutputFolder(where, directory);
  for (const [name, result, subtitle] of figures) {
    const figure = patchHeatmap(result, {
      tokens: [...tokens],
      title: name,
      subtitle,
      valueLabel: name.startsWith('attribution_') ? 'estimated change' : 'metric',
      midpoint: name.startsWith('attribution_') ? 0 : corrupted,
    });
    const svg = await figure.toSVG();
    await writeAtomically(where, join(directory, `${name}.svg`), (path) => writeFile(path, svg));
  }
}
