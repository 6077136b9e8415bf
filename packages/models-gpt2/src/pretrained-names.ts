import { InvalidArgumentError } from '@patchlens/tensor-hooks';

/**
 * TransformerLens's GPT-2 model names and aliases, with the Hugging Face repository each one loads.
 *
 * @example
 * ```ts
 * GPT2_PRETRAINED_NAMES['gpt2-small']; // 'openai-community/gpt2'
 * ```
 */
export const GPT2_PRETRAINED_NAMES: Readonly<Record<string, string>> = Object.freeze({
  gpt2: 'openai-community/gpt2',
  'gpt2-small': 'openai-community/gpt2',
  'gpt2-medium': 'openai-community/gpt2-medium',
  'gpt2-large': 'openai-community/gpt2-large',
  'gpt2-xl': 'openai-community/gpt2-xl',
  distilgpt2: 'distilbert/distilgpt2',
  distillgpt2: 'distilbert/distilgpt2',
  'distill-gpt2': 'distilbert/distilgpt2',
  'distil-gpt2': 'distilbert/distilgpt2',
  'gpt2-xs': 'distilbert/distilgpt2',
});

/**
 * A model name resolved to the Hugging Face folder URL it loads from.
 *
 * @example
 * ```ts
 * const { repo, revision, url }: PretrainedLocation = resolvePretrainedName('gpt2')!;
 * ```
 */
export interface PretrainedLocation {
  /** The name as given. */
  readonly name: string;
  /** Hugging Face repository id, `owner/name`. */
  readonly repo: string;
  /** Branch, tag or commit (default `main`). */
  readonly revision: string;
  /** Folder URL holding `config.json` and the weights, ending in `/`. */
  readonly url: string;
}

const HUB = 'https://huggingface.co';
const REPO_PART = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const REPO_ID = new RegExp(`^(${REPO_PART}/${REPO_PART})(?:@([^\\s@]+))?$`);

/**
 * Resolves a TransformerLens GPT-2 name or alias (`gpt2`, `gpt2-small`, `gpt2-medium`, `gpt2-large`,
 * `gpt2-xl`, `distilgpt2`) or a Hugging Face id (`openai-community/gpt2`, `user/repo`,
 * `user/repo@revision`) to the Hugging Face folder URL the weights load from. Pure: nothing is fetched.
 *
 * Limitations: only the GPT-2 architecture loads; a `user/repo` of another architecture fails when
 * its config is read. A relative URL such as `models/ioi` reads as a repository id: write
 * `./models/ioi/` for a folder next to the page.
 *
 * @param name - the name, alias or id (aliases are matched case-insensitively, as in TransformerLens).
 * @returns the location, or `undefined` when `name` is neither (a URL, a path, a typo).
 * @throws InvalidArgumentError for an id with an empty revision (`user/repo@`).
 * @example
 * ```ts
 * resolvePretrainedName('gpt2')?.url; // 'https://huggingface.co/openai-community/gpt2/resolve/main/'
 * resolvePretrainedName('user/repo@v1')?.url; // 'https://huggingface.co/user/repo/resolve/v1/'
 * resolvePretrainedName('https://example.com/model/'); // undefined
 * ```
 */
export function resolvePretrainedName(name: string): PretrainedLocation | undefined {
  if (typeof name !== 'string') return undefined;
  const lower = name.toLowerCase();
  if (Object.hasOwn(GPT2_PRETRAINED_NAMES, lower)) {
    return location(name, GPT2_PRETRAINED_NAMES[lower]!, 'main');
  }
  if (name.endsWith('@')) {
    throw new InvalidArgumentError(
      `resolvePretrainedName: ${JSON.stringify(name)} has an empty revision; write "user/repo" or "user/repo@revision" (a branch, tag or commit).`,
    );
  }
  const match = REPO_ID.exec(name);
  if (!match) return undefined;
  return location(name, match[1]!, match[2] ?? 'main');
}

function location(name: string, repo: string, revision: string): PretrainedLocation {
  return {
    name,
    repo,
    revision,
    url: `${HUB}/${repo}/resolve/${encodeURIComponent(revision)}/`,
  };
}
