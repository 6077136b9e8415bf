/** Longest token text (in characters, after escaping) shown in an axis label by default. */
export const DEFAULT_MAX_TOKEN_LENGTH = 14;

/**
 * Makes a token's invisible parts visible: leading and trailing spaces become `␣`,
 * newlines `↵`, tabs `⇥`, other control characters `�`, and the empty string `∅`.
 *
 * @example
 * ```ts
 * displayToken(' Mary'); // '␣Mary'
 * displayToken('\n');    // '↵'
 * ```
 */
export function displayToken(token: string): string {
  if (token.length === 0) return '∅';
  const escaped = token
    .replace(/\r\n|\n|\r/g, '↵')
    .replace(/\t/g, '⇥')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we replace
    .replace(/[\u0000-\u001f\u007f]/g, '�');
  const leading = escaped.length - escaped.trimStart().length;
  const trimmed = escaped.trim();
  if (trimmed.length === 0) return '␣'.repeat(escaped.length);
  const trailing = escaped.length - escaped.trimEnd().length;
  return '␣'.repeat(leading) + trimmed + '␣'.repeat(trailing);
}

/** Shortens `text` to at most `maxLength` characters (code points), ending in `…` when cut. */
export function truncateLabel(text: string, maxLength: number): string {
  const characters = Array.from(text);
  if (characters.length <= maxLength) return text;
  return characters.slice(0, Math.max(1, maxLength - 1)).join('') + '…';
}

/**
 * The axis label of a token: `"<position>: <token>"`, with {@link displayToken} escaping and
 * the token part cut to `maxTokenLength` characters. The position keeps repeated tokens
 * (the two `␣John`s of an IOI prompt) distinct.
 *
 * @example
 * ```ts
 * tokenLabel(3, ' Mary'); // '3: ␣Mary'
 * tokenLabel(7, ' extraordinarily', 8); // '7: ␣extrao…'
 * ```
 * @param position - the token's index in the prompt.
 * @param token - the token text as the tokenizer decodes it.
 * @param maxTokenLength - longest token part, default 14.
 */
export function tokenLabel(
  position: number,
  token: string,
  maxTokenLength: number = DEFAULT_MAX_TOKEN_LENGTH,
): string {
  return `${position}: ${truncateLabel(displayToken(token), maxTokenLength)}`;
}
