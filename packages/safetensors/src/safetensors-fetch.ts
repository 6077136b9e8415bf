import { InvalidArgumentError } from '@patchlens/errors';
import {
  type MissingTensorHandler,
  missingTensorArgument,
  readFileFromBytes,
  readFileFromSource,
  readHeaderFromSource,
} from './byte-source.js';
import {
  downloadWhole,
  type HttpContext,
  HttpRangeSource,
  type SafetensorsProgressCallback,
} from './http-source.js';
import type {
  ReadSafetensorsOptions,
  SafetensorsFile,
  SafetensorsHeader,
} from './safetensors-types.js';

/**
 * Options of {@link fetchSafetensors} and {@link fetchShardedSafetensors}.
 *
 * @example
 * ```ts
 * const options: FetchSafetensorsOptions = {
 *   tensorNames: ['wte.weight'],
 *   onProgress: (loaded, total) => console.log(loaded, total),
 *   requestInit: { headers: { Authorization: `Bearer ${token}` } },
 * };
 * ```
 */
export interface FetchSafetensorsOptions extends ReadSafetensorsOptions {
  /**
   * `'full'`: one GET of the whole file, streamed. `'range'`: Range requests for the
   * header and then each wanted tensor's bytes. `'auto'` (default): `'range'` when
   * `tensorNames` is given, else `'full'`. A server that ignores `Range` (answers 200)
   * gets a single full download instead.
   */
  readonly mode?: 'auto' | 'full' | 'range';
  /** Called as bytes arrive; see {@link SafetensorsProgressCallback}. Default: none. */
  readonly onProgress?: SafetensorsProgressCallback;
  /** Cancels the requests; the call then rejects with `AbortError`. Default: none. */
  readonly signal?: AbortSignal;
  /** Extra request options (headers, credentials, ...); a `Range` header is set by the reader. */
  readonly requestInit?: RequestInit;
  /** The fetch implementation to use. Default: `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch;
}

/** Resolves `url` (relative URLs against the page in a browser) or throws InvalidArgumentError. */
export function resolveUrl(url: string | URL, where: string): URL {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(String(url), base);
  } catch (error) {
    throw new InvalidArgumentError(
      `${where}: url ${JSON.stringify(String(url))} is not a valid absolute URL${base === undefined ? ' (relative URLs need a page to resolve against)' : ''}.`,
      { cause: error },
    );
  }
}

/** The request context for one URL, from the caller's options. */
export function httpContext(
  url: URL,
  options: FetchSafetensorsOptions,
  where: string,
): HttpContext {
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  if (typeof fetchImplementation !== 'function') {
    throw new InvalidArgumentError(
      `${where}: no fetch implementation; pass options.fetch on runtimes without a global fetch.`,
    );
  }
  return {
    url: url.href,
    fetch: fetchImplementation,
    init: options.requestInit ?? {},
    signal: options.signal ?? options.requestInit?.signal ?? undefined,
    onProgress: options.onProgress,
    where,
  };
}

/** Reads one file over HTTP in the mode the options ask for. */
export async function fetchFile(
  context: HttpContext,
  options: FetchSafetensorsOptions,
  onMissing: MissingTensorHandler = missingTensorArgument(context.where),
): Promise<SafetensorsFile> {
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'full' && mode !== 'range') {
    throw new InvalidArgumentError(
      `${context.where}: options.mode is ${JSON.stringify(mode)}; expected 'auto', 'full' or 'range'.`,
    );
  }
  const { tensorNames } = options;
  if (mode === 'range' || (mode === 'auto' && tensorNames !== undefined)) {
    return readFileFromSource(new HttpRangeSource(context), tensorNames, context.where, onMissing);
  }
  const bytes = await downloadWhole(context);
  // The download buffer is ours: tensors may view it instead of copying.
  return readFileFromBytes(bytes, tensorNames, true, context.where, onMissing);
}

/**
 * Reads a `.safetensors` file from a URL: either one streamed GET of the whole file, or,
 * when only some tensors are wanted, HTTP Range requests for the 8-byte length, the header,
 * and then each wanted tensor's bytes (nothing else is downloaded).
 *
 * @param url - absolute URL (relative URLs resolve against the page in a browser)
 * @param options - `tensorNames` (default: all), `mode` (default `'auto'`), `onProgress`,
 *   `signal`, `requestInit`, `fetch`; see {@link FetchSafetensorsOptions}
 * @throws SafetensorsFormatError when the file is malformed or shorter than its header says
 * @throws InvalidArgumentError for a bad URL or a tensor name the file lacks
 * @throws AbortError when `signal` aborts
 * @throws PatchLensError for network failures and HTTP errors (the message has the status)
 *
 * Limitations: a full download is held in one buffer (a few GiB at most); use `tensorNames`
 * to read bigger files piecewise. Range mode sends one request per tensor.
 *
 * @example
 * ```ts
 * import { fetchSafetensors } from '@patchlens/safetensors';
 * const { tensors } = await fetchSafetensors(
 *   'https://huggingface.co/openai-community/gpt2/resolve/main/model.safetensors',
 *   { tensorNames: ['wte.weight'], onProgress: (loaded, total) => console.log(loaded, total) },
 * );
 * ```
 */
export async function fetchSafetensors(
  url: string | URL,
  options: FetchSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const where = `fetchSafetensors(${JSON.stringify(String(url))})`;
  return fetchFile(httpContext(resolveUrl(url, where), options, where), options);
}

/**
 * Reads only the header of a `.safetensors` file at a URL, with two Range requests (8 bytes,
 * then the header); falls back to a full download when the server ignores `Range`.
 *
 * @param url - absolute URL
 * @param options - `onProgress`, `signal`, `requestInit`, `fetch` (as for {@link fetchSafetensors})
 * @throws SafetensorsFormatError when the header is malformed
 *
 * @example
 * ```ts
 * const header = await fetchSafetensorsHeader(url);
 * console.log(header.tensors.get('wte.weight')?.shape);
 * ```
 */
export async function fetchSafetensorsHeader(
  url: string | URL,
  options: Omit<FetchSafetensorsOptions, 'tensorNames' | 'mode'> = {},
): Promise<SafetensorsHeader> {
  const where = `fetchSafetensorsHeader(${JSON.stringify(String(url))})`;
  const source = new HttpRangeSource(httpContext(resolveUrl(url, where), options, where));
  const header = await readHeaderFromSource(source, where);
  source.plan(header.dataStart); // completes the progress report
  return header;
}
