import { extname } from 'node:path';
import type { BackendPreference } from '@patchlens/backends';
import {
  PATCHING_FUNCTION_NAMES,
  type PatchingFunctionName,
  resolvePatchingNames,
  type SweepShard,
} from '@patchlens/patching';
import {
  backendPreference,
  COMMON_OPTIONS,
  COMMON_USAGE,
  parseCommandLine,
  requireModel,
} from './command-line.js';
import {
  PROMPT_OPTIONS,
  PROMPT_USAGE,
  type PromptArguments,
  parsePromptArguments,
} from './prompt-inputs.js';
import { checkScaleOutFlags, SCALE_OUT_OPTIONS, SCALE_OUT_USAGE } from './scale-out.js';
import { UsageError } from './usage-error.js';

const PATCH_OPTIONS = {
  ...COMMON_OPTIONS,
  ...PROMPT_OPTIONS,
  metric: { type: 'string', default: 'logit-diff' },
  patch: { type: 'string', multiple: true },
  engine: { type: 'string', default: 'fast' },
  workers: { type: 'string', default: 'auto' },
  'memory-budget': { type: 'string' },
  out: { type: 'string' },
  svg: { type: 'string' },
  'svg-values': { type: 'string', default: 'normalized' },
  ...SCALE_OUT_OPTIONS,
} as const;

/** The metrics of `--metric`, with what they compute. */
export const PATCH_METRICS = {
  'logit-diff':
    'mean over prompts of logits[last, answer] - logits[last, wrong] (the raw logit difference)',
  'normalized-logit-diff':
    '(logit diff - corrupted) / (clean - corrupted): 0 = corrupted run, 1 = clean run restored',
} as const;

/** A `--metric` name. */
export type PatchMetricName = keyof typeof PATCH_METRICS;

const SVG_VALUES = ['normalized', 'raw'] as const;
const OUTPUT_EXTENSIONS = ['.json', '.csv', '.arrow'] as const;

/** Sweep names wrapped to lines of about 90 characters, indented. */
function wrappedNames(names: readonly string[], indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    const next = line === '' ? name : `${line}, ${name}`;
    if (next.length > 90 && line !== '') {
      lines.push(`${line},`);
      line = name;
    } else line = next;
  }
  lines.push(line);
  return lines.map((text) => `${indent}${text}`).join('\n');
}

/** Usage text of `patchlens patch`: every flag, sweep name and metric. */
export const PATCH_USAGE = `patchlens patch --model M
${PROMPT_USAGE}
  [--metric logit-diff|normalized-logit-diff] [--patch all|NAME,NAME,...]   --patch repeatable (merged)
  [--engine fast|reference] [--workers N|auto] [--memory-budget MIB]
  [--out FILE.json|.csv|.arrow] [--svg DIR] [--svg-values normalized|raw]
${SCALE_OUT_USAGE}
${COMMON_USAGE}

  A TOKEN is text that encodes to one token (" Mary"); an ID is a decimal token id.
  --out: JSON (default, on stdout) in the layout of the CLI spec; .csv/.arrow: one row per value with
    columns patch, the axes, value, token (first clean prompt's token at pos), metric_clean, metric_corrupted.
  --svg DIR: one heatmap per sweep; values normalised by the clean/corrupted runs (1 = clean restored,
    0 = corrupted) on a fixed -1..1 colour scale, or with --svg-values raw the metric's own values.

Metrics (--metric):
${Object.entries(PATCH_METRICS)
  .map(([name, words]) => `  ${name.padEnd(22)} ${words}`)
  .join('\n')}

Sweeps (--patch; names = TransformerLens get_act_patch_* without the prefix; default all):
  all
${wrappedNames(PATCHING_FUNCTION_NAMES, '  ')}`;

/** A checked `patchlens patch` command line: everything that can be known without the model. */
export interface PatchArguments extends PromptArguments {
  readonly source: string;
  readonly backend: BackendPreference;
  readonly processWeights: boolean;
  readonly metric: PatchMetricName;
  readonly names: PatchingFunctionName[];
  readonly engine: 'fast' | 'reference';
  /** Fast-engine worker threads (`auto`: one per core, limited by memory). */
  readonly workers: number | 'auto';
  /** Memory one worker's passes may use, in bytes; undefined: the library default. */
  readonly memoryBudgetBytes: number | undefined;
  readonly out: string | undefined;
  readonly format: (typeof OUTPUT_EXTENSIONS)[number];
  readonly svg: string | undefined;
  readonly svgValues: (typeof SVG_VALUES)[number];
  /** `--shard i/n|auto`: compute only this part of every sweep (undefined: all). */
  readonly shard: SweepShard | undefined;
  /** `--checkpoint FILE`: resumable run. */
  readonly checkpoint: string | undefined;
}

/** `--workers N|auto`: fast-engine worker threads (auto: one per core, limited by memory). */
function workerOption(value: string): number | 'auto' {
  if (value === 'auto') return value;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(
      `patchlens patch: --workers "${value}" is not a positive integer or auto (one per core, limited by memory).`,
    );
  }
  return Number(value);
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

function oneOf<const T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(
      `patchlens patch: --${flag} "${value}" is not one of ${choices.join(', ')}.`,
    );
  }
  return value as T;
}

function sweepNames(values: readonly string[] | undefined): PatchingFunctionName[] {
  const entries = (values ?? ['all']).flatMap((value) => value.split(','));
  if (entries.some((entry) => entry.trim() === '')) {
    throw new UsageError(
      `patchlens patch: --patch ${values!.map((value) => JSON.stringify(value)).join(' --patch ')} has an empty entry; give comma-separated sweep names without empty ones (patchlens patch --help lists them).`,
    );
  }
  try {
    return resolvePatchingNames(entries);
  } catch (error) {
    throw new UsageError(
      `patchlens patch: --patch: ${(error as Error).message.replace(/^resolvePatchingNames: /, '')}`,
      { cause: error },
    );
  }
}

/**
 * Parses and checks a `patchlens patch` command line, everything that does not need the model.
 *
 * @returns `'help'` for `--help`, else the checked arguments.
 * @throws UsageError with one line saying what is wrong.
 */
export function parsePatchArguments(argv: readonly string[]): PatchArguments | 'help' {
  const values = parseCommandLine('patch', argv, PATCH_OPTIONS);
  if (values.help) return 'help';
  const source = requireModel('patch', values.model);
  const backend = backendPreference('patch', values.backend);
  const metric = oneOf('metric', values.metric, Object.keys(PATCH_METRICS) as PatchMetricName[]);
  const engine = oneOf('engine', values.engine, ['fast', 'reference'] as const);
  const svgValues = oneOf('svg-values', values['svg-values'], SVG_VALUES);
  const out = values.out;
  const format =
    out === undefined ? '.json' : (extname(out).toLowerCase() as PatchArguments['format']);
  if (!OUTPUT_EXTENSIONS.includes(format)) {
    throw new UsageError(`patchlens patch: --out "${out}" must end in .json, .csv or .arrow.`);
  }
  const names = sweepNames(values.patch);
  const shard = checkScaleOutFlags(values, format, process.env);
  return {
    source,
    backend,
    processWeights: !values['no-process-weights'],
    ...parsePromptArguments('patch', values),
    metric,
    names,
    engine,
    workers: workerOption(values.workers),
    memoryBudgetBytes: memoryBudgetOption(values['memory-budget']),
    out,
    format,
    svg: values.svg,
    svgValues,
    shard,
    checkpoint: values.checkpoint,
  };
}
