const brand = Symbol.for('patchlens.error');

/**
 * Base class of every error PatchLens throws on purpose.
 *
 * Use {@link PatchLensError.isInstance} rather than `instanceof` when errors may
 * cross package copies (two versions of a package in one bundle).
 *
 * @example
 * ```ts
 * try { model.toSingleToken(' Mary and'); }
 * catch (error) { if (PatchLensError.isInstance(error)) console.error(error.message); }
 * ```
 */
export class PatchLensError extends Error {
  private readonly [brand] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PatchLensError';
  }

  /** True when `value` is a PatchLens error (of any subclass, from any copy of the package). */
  static isInstance(value: unknown): value is PatchLensError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}

/** An argument has the wrong rank, shape or size. `expected` and `actual` are shapes (or sizes). */
export class ShapeMismatchError extends PatchLensError {
  readonly expected: readonly (number | null)[];
  readonly actual: readonly number[];

  constructor(
    message: string,
    details: { expected: readonly (number | null)[]; actual: readonly number[] },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShapeMismatchError';
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** A hook name that the model does not have; `suggestions` holds the closest valid names. */
export class UnknownHookError extends PatchLensError {
  readonly hookName: string;
  readonly suggestions: readonly string[];

  constructor(hookName: string, suggestions: readonly string[], context = '') {
    const hint =
      suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `"${s}"`).join(', ')}?` : '';
    super(`Unknown hook name "${hookName}"${context}.${hint}`);
    this.name = 'UnknownHookError';
    this.hookName = hookName;
    this.suggestions = suggestions;
  }
}

/** A value is outside what a function accepts (a token id past the vocabulary, a layer past nLayers, ...). */
export class InvalidArgumentError extends PatchLensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** A .safetensors file (or sharded index) that cannot be read as one; the message names the tensor and the fault. */
export class SafetensorsFormatError extends PatchLensError {
  /** The tensor the problem concerns, when there is one. */
  readonly tensorName: string | undefined;

  constructor(message: string, tensorName?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SafetensorsFormatError';
    this.tensorName = tensorName;
  }
}

/** A checkpoint whose tensors do not match the model's declared weight table (missing or mis-shaped). */
export class WeightMappingError extends PatchLensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeightMappingError';
  }
}

/** Text that does not tokenise as required (e.g. an answer that is not exactly one token). */
export class TokenizationError extends PatchLensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenizationError';
  }
}

/** A metric returned something other than one finite number. */
export class MetricError extends PatchLensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetricError';
  }
}

/** A sweep was cancelled through its AbortSignal; everything it made has been disposed. */
export class AbortError extends PatchLensError {
  constructor(message = 'The operation was aborted.', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}
