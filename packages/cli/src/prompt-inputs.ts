import { TokenizationError } from '@patchlens/tensor-hooks';
import { type OptionTable, parseIdList } from './command-line.js';
import type { CliModel } from './load-model.js';
import { UsageError } from './usage-error.js';

/**
 * The prompt and answer flags of every command that compares a clean and a corrupted run
 * (`patch`, `path`): what they accept, how they are checked before the model loads, and how they
 * become token ids once it has. Messages name the command the user ran.
 */

/** Prompt and answer flags, in `node:util` parseArgs form. */
export const PROMPT_OPTIONS = {
  clean: { type: 'string', multiple: true },
  corrupted: { type: 'string', multiple: true },
  'clean-ids': { type: 'string', multiple: true },
  'corrupted-ids': { type: 'string', multiple: true },
  'no-prepend-bos': { type: 'boolean', default: false },
  answer: { type: 'string', multiple: true },
  wrong: { type: 'string', multiple: true },
} as const satisfies OptionTable;

/** Usage lines of the {@link PROMPT_OPTIONS}. */
export const PROMPT_USAGE = `  (--clean TEXT --corrupted TEXT | --clean-ids 5,17,42 --corrupted-ids 5,17,43)   repeatable: one per prompt
  [--no-prepend-bos] --answer TOKEN|ID --wrong TOKEN|ID   repeatable: one per prompt, or one for all`;

/** Prompts and answers as given on the command line, checked as far as possible without the model. */
export interface PromptArguments {
  /** Prompts as text (tokenised with the model) or as parsed id lists. */
  readonly prompts:
    | { readonly kind: 'text'; readonly clean: string[]; readonly corrupted: string[] }
    | { readonly kind: 'ids'; readonly clean: number[][]; readonly corrupted: number[][] };
  /** False with --no-prepend-bos; unset: the model's default (TransformerLens default_prepend_bos: false for Pythia). */
  readonly prependBos: boolean | undefined;
  readonly answer: string[];
  readonly wrong: string[];
}

/** Prompts and answers as token ids, checked against the model. */
export interface PromptInputs {
  readonly clean: number[][];
  readonly corrupted: number[][];
  readonly answers: number[];
  readonly wrong: number[];
}

const quote = (text: string) => JSON.stringify(text);

/** Each token's text, or its id when the model has no tokenizer (a folder without tokenizer.json). */
export function tokenLabels(model: CliModel, ids: readonly number[]): string[] {
  try {
    return model.toStrTokens([...ids]);
  } catch (error) {
    if (!TokenizationError.isInstance(error)) throw error;
    return ids.map(String);
  }
}

/**
 * Parses the {@link PROMPT_OPTIONS} of a command line.
 *
 * @throws UsageError with one line saying what is wrong.
 */
export function parsePromptArguments(
  command: string,
  values: {
    clean?: string[];
    corrupted?: string[];
    'clean-ids'?: string[];
    'corrupted-ids'?: string[];
    'no-prepend-bos'?: boolean;
    answer?: string[];
    wrong?: string[];
  },
): PromptArguments {
  const prompts = promptArguments(command, values);
  if (prompts.clean.length === 0) {
    throw new UsageError(
      `patchlens ${command}: no prompts; give at least one --clean TEXT --corrupted TEXT pair (or --clean-ids/--corrupted-ids).`,
    );
  }
  const batch = prompts.clean.length;
  return {
    prompts,
    prependBos: values['no-prepend-bos'] ? false : undefined,
    answer: answerArguments(command, 'answer', values.answer, batch),
    wrong: answerArguments(command, 'wrong', values.wrong, batch),
  };
}

/**
 * Token ids of the prompts and answers, checked against the model (vocabulary, context, equal
 * lengths, prompts that differ, answers that differ).
 *
 * @throws UsageError naming the prompt (counted from 1) and the flag.
 */
export function resolvePromptInputs(
  command: string,
  model: CliModel,
  args: PromptArguments,
): PromptInputs {
  const tokens = promptTokens(command, model, args);
  const answers = answerIds(command, model, 'answer', args.answer);
  const wrong = answerIds(command, model, 'wrong', args.wrong);
  checkAnswersDiffer(command, model, answers, wrong, tokens.clean.length);
  return { ...tokens, answers, wrong };
}

function promptArguments(
  command: string,
  values: {
    clean?: string[];
    corrupted?: string[];
    'clean-ids'?: string[];
    'corrupted-ids'?: string[];
  },
): PromptArguments['prompts'] {
  const { clean, corrupted } = values;
  const cleanIds = values['clean-ids'];
  const corruptedIds = values['corrupted-ids'];
  const usesText = clean !== undefined || corrupted !== undefined;
  const usesIds = cleanIds !== undefined || corruptedIds !== undefined;
  if (usesText === usesIds) {
    throw new UsageError(
      `patchlens ${command}: give the prompts either as text (--clean TEXT --corrupted TEXT) or as ids (--clean-ids 5,17 --corrupted-ids 5,18), not both and not neither.`,
    );
  }
  const cleanPrompts = usesText ? (clean ?? []) : (cleanIds ?? []);
  const corruptedPrompts = usesText ? (corrupted ?? []) : (corruptedIds ?? []);
  const [cleanFlag, corruptedFlag] = usesText
    ? ['clean', 'corrupted']
    : ['clean-ids', 'corrupted-ids'];
  if (cleanPrompts.length !== corruptedPrompts.length) {
    throw new UsageError(
      `patchlens ${command}: got ${cleanPrompts.length} --${cleanFlag} and ${corruptedPrompts.length} --${corruptedFlag}; give one corrupted prompt per clean prompt.`,
    );
  }
  if (usesText) {
    [cleanPrompts, corruptedPrompts].forEach((prompts, side) => {
      const index = prompts.findIndex((prompt) => prompt.length === 0);
      if (index >= 0) {
        throw new UsageError(
          `patchlens ${command}: prompt ${index + 1}'s --${side === 0 ? cleanFlag : corruptedFlag} is empty; a prompt needs at least one token of text to patch.`,
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

function answerArguments(
  command: string,
  flag: string,
  values: string[] | undefined,
  batch: number,
): string[] {
  if (!values || values.length === 0) {
    throw new UsageError(
      `patchlens ${command}: --${flag} is required (a single-token text like " Mary", or a token id).`,
    );
  }
  if (values.length !== 1 && values.length !== batch) {
    throw new UsageError(
      `patchlens ${command}: got ${values.length} --${flag} values for ${batch} prompts; give one for all prompts or one per prompt.`,
    );
  }
  return values;
}

/**
 * Token id lists of the clean and corrupted prompts, checked against the model: equal lengths,
 * within the context (`n_positions`) and the vocabulary, and not all identical.
 */
function promptTokens(
  command: string,
  model: CliModel,
  args: PromptArguments,
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
  const show = (ids: number[]) => JSON.stringify(tokenLabels(model, ids));
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
          `patchlens ${command}: prompt ${number}'s ${flag} has token id ${outside}, but the model's vocabulary (vocab_size in config.json) has ids 0 to ${dVocab - 1}.`,
        );
      }
      if (tokens.length > nCtx) {
        throw new UsageError(
          `patchlens ${command}: prompt ${number}'s ${flag} has ${tokens.length} tokens, more than the model's context of ${nCtx} positions (n_positions in config.json); shorten the prompt.`,
        );
      }
      if (tokens.length === 0) {
        throw new UsageError(
          `patchlens ${command}: prompt ${number}'s ${flag} has no tokens; give some text (or drop --no-prepend-bos).`,
        );
      }
    }
    if (cleanTokens.length !== corruptedTokens.length) {
      throw new UsageError(
        `patchlens ${command}: prompt ${number} has ${cleanTokens.length} clean tokens ${show(cleanTokens)} but ${corruptedTokens.length} corrupted tokens ${show(corruptedTokens)}; clean and corrupted prompts must have the same number of tokens.`,
      );
    }
    const first = result.clean[0];
    if (first && first.length !== cleanTokens.length) {
      throw new UsageError(
        `patchlens ${command}: prompt 1 has ${first.length} tokens but prompt ${number} has ${cleanTokens.length} ${show(cleanTokens)}; every prompt of a batch must have the same number of tokens.`,
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
      `patchlens ${command}: the clean and corrupted prompts are the same tokens, so patching cannot change anything; the corrupted prompt should differ where the answer is decided (e.g. swap the names).`,
    );
  }
  return result;
}

/** `--answer`/`--wrong` values as token ids: decimal integers are ids, anything else must be one token. */
export function answerIds(
  command: string,
  model: CliModel,
  flag: string,
  values: readonly string[],
): number[] {
  return values.map((value) => {
    if (/^\d+$/.test(value)) {
      const id = Number(value);
      if (id >= model.config.dVocab) {
        throw new UsageError(
          `patchlens ${command}: --${flag} ${value} is not a token id of the model (vocab_size ${model.config.dVocab}: ids 0 to ${model.config.dVocab - 1}).`,
        );
      }
      return id;
    }
    try {
      return model.toSingleToken(value);
    } catch (error) {
      if (error instanceof TokenizationError) {
        throw new UsageError(`patchlens ${command}: --${flag} ${error.message}`, { cause: error });
      }
      throw error;
    }
  });
}

/** Throws when some prompt's answer and wrong token are the same (its logit difference is always 0). */
function checkAnswersDiffer(
  command: string,
  model: CliModel,
  answers: readonly number[],
  wrong: readonly number[],
  batch: number,
) {
  for (let index = 0; index < batch; index++) {
    const answer = answers[answers.length === 1 ? 0 : index]!;
    if (answer === wrong[wrong.length === 1 ? 0 : index]) {
      throw new UsageError(
        `patchlens ${command}: --answer and --wrong are the same token (${quote(tokenLabels(model, [answer])[0] ?? '')}, id ${answer})${batch > 1 ? ` for prompt ${index + 1}` : ''}, so the logit difference is 0 whatever is patched; --wrong should be the competing answer (e.g. the other name).`,
      );
    }
  }
}
