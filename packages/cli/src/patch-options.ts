import { extname } from 'node:path';
import type { BackendPreference } from '@patchlens/backends';
import {
  PATCHING_FUNCTION_NAMES,
  type PatchingFunctionName,
  resolvePatchingNames,
} from '@patchlens/patching';
import {
  backendPreference,
  COMMON_OPTIONS,
  COMMON_USAGE,
  parseCommandLine,
  parseIdList,
  requireModel,
} from './command-line.js';
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
  patch: { type: 'string', multiple: true },
  engine: { type: 'string', default: 'fast' },
  out: { type: 'string' },
  svg: { type: 'string' },
  'svg-values': { type: 'string', default: 'normalized' },
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
  (--clean TEXT --corrupted TEXT | --clean-ids 5,17,42 --corrupted-ids 5,17,43)   repeatable: one per prompt
  [--no-prepend-bos] --answer TOKEN|ID --wrong TOKEN|ID   repeatable: one per prompt, or one for all
  [--metric logit-diff|normalized-logit-diff] [--patch all|NAME,NAME,...]   --patch repeatable (merged)
  [--engine fast|reference] [--out FILE.json|.csv|.arrow] [--svg DIR] [--svg-values normalized|raw]
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
export interface PatchArguments {
  readonly source: string;
  readonly backend: BackendPreference;
  readonly processWeights: boolean;
  /** Prompts as text (tokenised with the model) or as parsed id lists. */
  readonly prompts:
    | { readonly kind: 'text'; readonly clean: string[]; readonly corrupted: string[] }
    | { readonly kind: 'ids'; readonly clean: number[][]; readonly corrupted: number[][] };
  readonly prependBos: boolean;
  readonly answer: string[];
  readonly wrong: string[];
  readonly metric: PatchMetricName;
  readonly names: PatchingFunctionName[];
  readonly engine: 'fast' | 'reference';
  readonly out: string | undefined;
  readonly format: (typeof OUTPUT_EXTENSIONS)[number];
  readonly svg: string | undefined;
  readonly svgValues: (typeof SVG_VALUES)[number];
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

function promptArguments(values: {
  clean?: string[];
  corrupted?: string[];
  'clean-ids'?: string[];
  'corrupted-ids'?: string[];
}): PatchArguments['prompts'] {
  const { clean, corrupted } = values;
  const cleanIds = values['clean-ids'];
  const corruptedIds = values['corrupted-ids'];
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
  if (cleanPrompts.length !== corruptedPrompts.length) {
    throw new UsageError(
      `patchlens patch: got ${cleanPrompts.length} --${cleanFlag} and ${corruptedPrompts.length} --${corruptedFlag}; give one corrupted prompt per clean prompt.`,
    );
  }
  if (usesText) {
    [cleanPrompts, corruptedPrompts].forEach((prompts, side) => {
      const index = prompts.findIndex((prompt) => prompt.length === 0);
      if (index >= 0) {
        throw new UsageError(
          `patchlens patch: prompt ${index + 1}'s --${side === 0 ? cleanFlag : corruptedFlag} is empty; a prompt needs at least one token of text to patch.`,
        );
      }
    });
    return { kind: 'text', clean: cleanPrompts, corrupted: corruptedPrompts };
  }
  return {
    kind: 'ids',
    clean: cleanPrompts.map((list) => parseIdList(cleanFlag, list)),
    corrupted: corruptedPrompts.map((list) => parseIdList(corruptedFlag, list)),
  };
}

function answerArguments(flag: string, values: string[] | undefined, batch: number): string[] {
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
  return values;
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
  const prompts = promptArguments(values);
  if (prompts.clean.length === 0) {
    throw new UsageError(
      'patchlens patch: no prompts; give at least one --clean TEXT --corrupted TEXT pair (or --clean-ids/--corrupted-ids).',
    );
  }
  const batch = prompts.clean.length;
  return {
    source,
    backend,
    processWeights: !values['no-process-weights'],
    prompts,
    prependBos: !values['no-prepend-bos'],
    answer: answerArguments('answer', values.answer, batch),
    wrong: answerArguments('wrong', values.wrong, batch),
    metric,
    names,
    engine,
    out,
    format,
    svg: values.svg,
    svgValues,
  };
}
