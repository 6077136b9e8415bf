import { AbortError, PatchLensError, SafetensorsFormatError } from '@patchlens/errors';
import type { ByteSource } from './byte-source.js';

/**
 * Called as bytes arrive: bytes received so far and the bytes expected in all (`undefined`
 * while unknown), and the URL being read. The last call has `loadedBytes === totalBytes`.
 *
 * @example
 * ```ts
 * const onProgress: SafetensorsProgressCallback = (loaded, total, url) =>
 *   console.log(`${url}: ${total ? Math.round((100 * loaded) / total) : '?'}%`);
 * ```
 */
export type SafetensorsProgressCallback = (
  loadedBytes: number,
  totalBytes: number | undefined,
  url: string,
) => void;

/** How to reach one URL. */
export interface HttpContext {
  readonly url: string;
  readonly fetch: typeof globalThis.fetch;
  readonly init: RequestInit;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: SafetensorsProgressCallback | undefined;
  readonly where: string;
}

function throwIfAborted(context: HttpContext, cause: unknown): void {
  if (context.signal?.aborted) {
    throw new AbortError(`${context.where}: aborted while reading ${context.url}.`, { cause });
  }
}

/** One GET, with a `Range` header when `range` ([offset, length]) is given. */
export async function request(
  context: HttpContext,
  range?: readonly [number, number],
): Promise<Response> {
  const headers = new Headers(context.init.headers);
  if (range !== undefined) headers.set('Range', `bytes=${range[0]}-${range[0] + range[1] - 1}`);
  const init: RequestInit = { ...context.init, headers };
  if (context.signal !== undefined) init.signal = context.signal;
  try {
    // Called as a plain function: browsers reject fetch invoked with another object as `this`.
    const fetchFunction = context.fetch;
    return await fetchFunction(context.url, init);
  } catch (error) {
    throwIfAborted(context, error);
    throw new PatchLensError(
      `${context.where}: fetching ${context.url} failed (${(error as Error)?.message ?? String(error)}); check the URL and the network.`,
      { cause: error },
    );
  }
}

/** The error for an HTTP status the reader cannot use. */
export function httpStatusError(context: HttpContext, response: Response): PatchLensError {
  return new PatchLensError(
    `${context.where}: GET ${context.url} answered HTTP ${response.status} ${response.statusText}; expected 200 (or 206 for a Range request).`,
  );
}

/** The body length a response announces, when it is the length of the bytes we will receive. */
export function announcedLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.toLowerCase() !== 'identity') return undefined; // compressed size
  const header = response.headers.get('content-length');
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) ? length : undefined;
}

/**
 * Streams a response body into one buffer, calling `onChunk` with each chunk's size.
 * With `expectedLength` the buffer is allocated once; otherwise chunks are joined at the end.
 *
 * @param maxBytes - refuse bodies longer than this (default: no limit)
 */
export async function readBody(
  context: HttpContext,
  response: Response,
  expectedLength: number | undefined,
  onChunk: (size: number) => void,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> {
  const tooLong = (length: number) =>
    new PatchLensError(
      `${context.where}: ${context.url} is at least ${length} bytes long, over the ${maxBytes}-byte limit for this read.`,
    );
  if (expectedLength !== undefined && expectedLength > maxBytes) throw tooLong(expectedLength);
  let buffer: Uint8Array | undefined;
  if (expectedLength !== undefined) {
    try {
      buffer = new Uint8Array(expectedLength);
    } catch (error) {
      throw new PatchLensError(
        `${context.where}: ${context.url} is ${expectedLength} bytes, more than this JavaScript engine can hold in one buffer; read fewer tensors with tensorNames (Range requests).`,
        { cause: error },
      );
    }
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    if (response.body === null) {
      // No stream (some fetch polyfills): take the body in one piece.
      const whole = new Uint8Array(await response.arrayBuffer());
      if (whole.length > maxBytes) throw tooLong(whole.length);
      chunks.push(whole);
      received = whole.length;
      onChunk(whole.length);
    } else {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        if (buffer !== undefined && received + value.length > buffer.length) {
          await reader.cancel();
          throw new PatchLensError(
            `${context.where}: ${context.url} sent more than the ${buffer.length} bytes its Content-Length announced.`,
          );
        }
        if (received + value.length > maxBytes) {
          await reader.cancel();
          throw tooLong(received + value.length);
        }
        if (buffer !== undefined) buffer.set(value, received);
        else chunks.push(value);
        received += value.length;
        onChunk(value.length);
      }
    }
  } catch (error) {
    throwIfAborted(context, error);
    if (PatchLensError.isInstance(error)) throw error;
    throw new PatchLensError(
      `${context.where}: reading the body of ${context.url} failed after ${received} bytes (${(error as Error)?.message ?? String(error)}).`,
      { cause: error },
    );
  }
  if (buffer !== undefined) {
    if (received !== buffer.length) {
      throw new PatchLensError(
        `${context.where}: ${context.url} sent ${received} bytes where its headers announced ${buffer.length}; the download was cut short or the server is misconfigured.`,
      );
    }
    return chunks.length === 1 ? chunks[0]! : buffer; // one chunk: the body came without a stream
  }
  if (chunks.length === 1) return chunks[0]!;
  const joined = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/**
 * Downloads a whole file in one request (reusing `response` when given), reporting progress;
 * the last progress call always has `loadedBytes === totalBytes`.
 */
export async function downloadWhole(
  context: HttpContext,
  response?: Response,
  maxBytes?: number,
): Promise<Uint8Array> {
  const answer = response ?? (await request(context));
  if (answer.status !== 200) throw httpStatusError(context, answer);
  const total = announcedLength(answer);
  let loaded = 0;
  const bytes = await readBody(
    context,
    answer,
    total,
    (size) => {
      loaded += size;
      context.onProgress?.(loaded, total, context.url);
    },
    maxBytes,
  );
  if (total === undefined || loaded === 0)
    context.onProgress?.(bytes.length, bytes.length, context.url);
  return bytes;
}

/**
 * A byte source over HTTP Range requests: one request per read. When the server ignores
 * `Range` (answers 200), the full body is downloaded once and later reads come from it.
 */
export class HttpRangeSource implements ByteSource {
  private fileSize: number | undefined;
  private whole: Uint8Array | undefined;
  private loaded = 0;
  private total: number | undefined;

  constructor(private readonly context: HttpContext) {}

  size(): number | undefined {
    return this.whole?.length ?? this.fileSize;
  }

  plan(totalBytes: number): void {
    if (this.whole === undefined) {
      this.total = totalBytes;
      if (this.loaded === totalBytes)
        this.context.onProgress?.(this.loaded, totalBytes, this.context.url);
    }
  }

  private truncated(offset: number, length: number, fileEnd: number): SafetensorsFormatError {
    return new SafetensorsFormatError(
      `${this.context.where}: wanted bytes [${offset}, ${offset + length}) of ${this.context.url}, but the file ends at byte ${fileEnd}; it is truncated.`,
    );
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const { context } = this;
    if (this.whole !== undefined) {
      if (offset + length > this.whole.length)
        throw this.truncated(offset, length, this.whole.length);
      return this.whole.slice(offset, offset + length); // a copy: the whole body need not stay alive
    }
    if (length === 0) return new Uint8Array(0);
    const response = await request(context, [offset, length]);
    if (response.status === 200) {
      this.whole = await downloadWhole(context, response);
      return this.read(offset, length);
    }
    if (response.status === 416) {
      const size = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
      await response.body?.cancel();
      throw this.truncated(offset, length, size === undefined ? Number.NaN : Number(size));
    }
    if (response.status !== 206) {
      await response.body?.cancel();
      throw httpStatusError(context, response);
    }
    const range = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(
      (response.headers.get('content-range') ?? '').trim(),
    );
    if (range === null || Number(range[1]) !== offset) {
      await response.body?.cancel();
      throw new PatchLensError(
        `${context.where}: GET ${context.url} with Range bytes=${offset}-${offset + length - 1} answered 206 with Content-Range ${JSON.stringify(response.headers.get('content-range'))}; expected "bytes ${offset}-.../size".`,
      );
    }
    if (range[3] !== '*') this.fileSize = Number(range[3]);
    const announced = Number(range[2]) - offset + 1;
    // A compliant server sends at most the requested bytes (fewer when the file ends early).
    const bytes = await readBody(
      context,
      response,
      announced,
      (size) => {
        this.loaded += size;
        context.onProgress?.(this.loaded, this.total, context.url);
      },
      length,
    );
    if (bytes.length < length) throw this.truncated(offset, length, offset + bytes.length);
    return bytes;
  }
}
