import { extname } from 'node:path';
import type { BackendPreference } from '@patchlens/backends';
import type { HeadRef, ReceiverHead } from '@patchlens/patching';
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
import { UsageError } from './usage-error.js';

const PATH_OPTIONS = {
  ...COMMON_OPTIONS,
  ...PROMPT_OPTIONS,
  senders: { type: 'string', default: 'all-heads' },
  receivers: { type: 'string', multiple: true },
  'batch-size': { type: 'string' },
  out: { type: 'string' },
  svg: { type: 'string' },
} as const;

/** Usage text of `patchlens path`. */
export const PATH_USAGE = `patchlens path --model M
${PROMPT_USAGE}
  [--senders all-heads|L.H,L.H,...] --receivers logits|resid_post|L.H[.q|k|v],...   --receivers repeatable
  [--batch-size K] [--out FILE.json|.csv] [--svg DIR]
${COMMON_USAGE}

  Path patching (Wang et al. 2022): the clean run with the senders' attention output (hook_z) from
  the corrupted run and every other head frozen to the clean run, MLPs recomputed; only the
  receivers' inputs take the result. Metric: the logit difference (--answer minus --wrong).
  --senders all-heads (default): every head on its own, result [layer, head]; or a list of heads
    patched together (e.g. 0.1,0.3), one value.
  --receivers: heads with the input that receives the path (9.9.q; 9.9 = its q, k and v inputs), or
    logits / resid_post (the end of the model). Each --receivers flag is one receiver set: one
    result (and one heatmap panel) per flag.
  Values: effect = patched - clean (metric units) and normalized = effect / (clean - corrupted):
    0 = the path changes nothing, -1 = as much as corrupting the whole prompt.
  --out: JSON (default, on stdout) or .csv (receivers, axes, effect, normalized).
  --svg DIR: path.svg, the sender x receiver heatmap of the normalised effects (-1..1).`;

/** One receiver set: its text as given and what it means. */
export interface ReceiverSet {
  readonly name: string;
  readonly receivers: 'logits' | readonly ReceiverHead[];
}

/** A checked `patchlens path` command line. */
export interface PathArguments extends PromptArguments {
  readonly source: string;
  readonly backend: BackendPreference;
  readonly processWeights: boolean;
  readonly senders: 'all-heads' | readonly HeadRef[];
  readonly receiverSets: readonly ReceiverSet[];
  readonly batchSize: number | undefined;
  readonly out: string | undefined;
  readonly format: '.json' | '.csv';
  readonly svg: string | undefined;
}

const HEAD = /^(\d+)\.(\d+)$/;
const RECEIVER = /^(\d+)\.(\d+)(?:\.([qkv]))?$/;

function parseSenders(value: string): 'all-heads' | HeadRef[] {
  if (value === 'all-heads') return 'all-heads';
  return value.split(',').map((entry) => {
    const match = HEAD.exec(entry.trim());
    if (!match) {
      throw new UsageError(
        `patchlens path: --senders entry "${entry}" is not a head; give all-heads or LAYER.HEAD entries separated by commas (e.g. 0.1,1.3).`,
      );
    }
    return { layer: Number(match[1]), head: Number(match[2]) };
  });
}

function parseReceivers(value: string): ReceiverSet {
  if (value === 'logits' || value === 'resid_post') return { name: value, receivers: 'logits' };
  const receivers = value.split(',').flatMap((entry) => {
    const match = RECEIVER.exec(entry.trim());
    if (!match) {
      throw new UsageError(
        `patchlens path: --receivers entry "${entry}" is not a receiver; give logits, resid_post, or LAYER.HEAD[.q|k|v] entries separated by commas (e.g. 1.0.q,1.2).`,
      );
    }
    const [layer, head] = [Number(match[1]), Number(match[2])];
    const inputs =
      match[3] === undefined ? (['q', 'k', 'v'] as const) : [match[3] as 'q' | 'k' | 'v'];
    return inputs.map((input) => ({ layer, head, input }));
  });
  return { name: value, receivers };
}

/**
 * Parses and checks a `patchlens path` command line, everything that does not need the model.
 *
 * @returns `'help'` for `--help`, else the checked arguments.
 * @throws UsageError with one line saying what is wrong.
 */
export function parsePathArguments(argv: readonly string[]): PathArguments | 'help' {
  const values = parseCommandLine('path', argv, PATH_OPTIONS);
  if (values.help) return 'help';
  const source = requireModel('path', values.model);
  const backend = backendPreference('path', values.backend);
  if (!values.receivers || values.receivers.length === 0) {
    throw new UsageError(
      'patchlens path: --receivers is required: logits, resid_post, or heads like 1.0.q (patchlens path --help).',
    );
  }
  const out = values.out;
  const format = out === undefined ? '.json' : extname(out).toLowerCase();
  if (format !== '.json' && format !== '.csv') {
    throw new UsageError(`patchlens path: --out "${out}" must end in .json or .csv.`);
  }
  let batchSize: number | undefined;
  if (values['batch-size'] !== undefined) {
    batchSize = Number(values['batch-size']);
    if (!/^\d+$/.test(values['batch-size']) || batchSize < 1) {
      throw new UsageError(
        `patchlens path: --batch-size "${values['batch-size']}" is not a positive integer (sender sets per forward pass).`,
      );
    }
  }
  return {
    source,
    backend,
    processWeights: !values['no-process-weights'],
    ...parsePromptArguments('path', values),
    senders: parseSenders(values.senders),
    receiverSets: values.receivers.map(parseReceivers),
    batchSize,
    out,
    format,
    svg: values.svg,
  };
}
