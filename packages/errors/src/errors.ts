/** The brand every PatchLens error carries; `Symbol.for` so that copies of the package agree on it. */
const brand = Symbol.for('patchlens.error');

/** Put `marker` on an error (non-enumerable, so it stays out of logs and JSON). */
function mark(target: object, marker: symbol): void {
  Object.defineProperty(target, marker, { value: true, enumerable: false });
}

/** True when `value` is an object carrying `marker` (set by the constructors below). */
function hasMarker(value: unknown, marker: symbol): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[marker] === true
  );
}

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
  /**
   * Set by the constructor (non-enumerable); declared so that a plain `Error` is not assignable to
   * `PatchLensError`. Subclasses stay structural, so `typeof ShapeMismatchError` is still assignable
   * to `typeof InvalidArgumentError` in callers' helper signatures.
   */
  private declare readonly [brand]: true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PatchLensError';
    mark(this, brand);
  }

  /**
   * True when `value` is a PatchLens error (of any subclass, from any copy of the package).
   * Each subclass has its own `isInstance` that checks for that subclass only.
   *
   * @example
   * ```ts
   * PatchLensError.isInstance(new ShapeMismatchError('…', { expected: [2], actual: [3] })); // true
   * PatchLensError.isInstance(new Error('plain')); // false
   * ```
   */
  static isInstance(value: unknown): value is PatchLensError {
    return hasMarker(value, brand);
  }
}

const shapeMismatchErrorBrand = Symbol.for('patchlens.error.ShapeMismatchError');

/**
 * An argument has the wrong rank, shape or size. `expected` and `actual` are shapes (or sizes);
 * `null` in `expected` means "any size on this axis".
 *
 * @example
 * ```ts
 * throw new ShapeMismatchError('f: x must be [batch, pos], got [3].', { expected: [null, null], actual: [3] });
 * ```
 */
export class ShapeMismatchError extends PatchLensError {
  /** True when `value` is a ShapeMismatchError (from any copy of the package). */
  static override isInstance(value: unknown): value is ShapeMismatchError {
    return hasMarker(value, shapeMismatchErrorBrand);
  }

  /** The shape (or size) that was accepted; `null` entries match any size. */
  readonly expected: readonly (number | null)[];
  /** The shape (or size) that was received. */
  readonly actual: readonly number[];

  constructor(
    message: string,
    details: { expected: readonly (number | null)[]; actual: readonly number[] },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShapeMismatchError';
    mark(this, shapeMismatchErrorBrand);
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

const unknownHookErrorBrand = Symbol.for('patchlens.error.UnknownHookError');

/**
 * A hook name that the model does not have; `suggestions` holds the closest valid names.
 *
 * @param hookName - the name that was asked for.
 * @param suggestions - the nearest valid names (may be empty).
 * @param context - extra text placed after the name in the message, e.g. `' (actName: …)'` (default none).
 * @example
 * ```ts
 * const error = new UnknownHookError('blocks.0.hook_resid_pr', ['blocks.0.hook_resid_pre']);
 * error.message; // 'Unknown hook name "blocks.0.hook_resid_pr". Did you mean "blocks.0.hook_resid_pre"?'
 * ```
 */
export class UnknownHookError extends PatchLensError {
  /** True when `value` is an UnknownHookError (from any copy of the package). */
  static override isInstance(value: unknown): value is UnknownHookError {
    return hasMarker(value, unknownHookErrorBrand);
  }

  /** The unknown name as it was given. */
  readonly hookName: string;
  /** The closest valid names, nearest first (may be empty). */
  readonly suggestions: readonly string[];

  constructor(hookName: string, suggestions: readonly string[], context = '') {
    const hint =
      suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `"${s}"`).join(', ')}?` : '';
    super(`Unknown hook name "${hookName}"${context}.${hint}`);
    this.name = 'UnknownHookError';
    mark(this, unknownHookErrorBrand);
    this.hookName = hookName;
    this.suggestions = suggestions;
  }
}

const invalidArgumentErrorBrand = Symbol.for('patchlens.error.InvalidArgumentError');

/**
 * A value is outside what a function accepts (a token id past the vocabulary, a layer past nLayers, ...).
 *
 * @example
 * ```ts
 * throw new InvalidArgumentError('sliceBatch: start must be an integer >= 0, got -1.');
 * ```
 */
export class InvalidArgumentError extends PatchLensError {
  /** True when `value` is an InvalidArgumentError (from any copy of the package). */
  static override isInstance(value: unknown): value is InvalidArgumentError {
    return hasMarker(value, invalidArgumentErrorBrand);
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidArgumentError';
    mark(this, invalidArgumentErrorBrand);
  }
}

const safetensorsFormatErrorBrand = Symbol.for('patchlens.error.SafetensorsFormatError');

/**
 * A .safetensors file (or sharded index) that cannot be read as one; the message names the tensor and the fault.
 *
 * @example
 * ```ts
 * throw new SafetensorsFormatError('readSafetensors: "wte" ends past the end of the file.', 'wte');
 * ```
 */
export class SafetensorsFormatError extends PatchLensError {
  /** True when `value` is a SafetensorsFormatError (from any copy of the package). */
  static override isInstance(value: unknown): value is SafetensorsFormatError {
    return hasMarker(value, safetensorsFormatErrorBrand);
  }

  /** The tensor the problem concerns, when there is one. */
  readonly tensorName: string | undefined;

  constructor(message: string, tensorName?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SafetensorsFormatError';
    mark(this, safetensorsFormatErrorBrand);
    this.tensorName = tensorName;
  }
}

const weightMappingErrorBrand = Symbol.for('patchlens.error.WeightMappingError');

/**
 * A checkpoint whose tensors do not match the model's declared weight table (missing or mis-shaped).
 *
 * @example
 * ```ts
 * throw new WeightMappingError('loadGpt2: checkpoint lacks "h.0.attn.c_attn.weight".');
 * ```
 */
export class WeightMappingError extends PatchLensError {
  /** True when `value` is a WeightMappingError (from any copy of the package). */
  static override isInstance(value: unknown): value is WeightMappingError {
    return hasMarker(value, weightMappingErrorBrand);
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeightMappingError';
    mark(this, weightMappingErrorBrand);
  }
}

const tokenizationErrorBrand = Symbol.for('patchlens.error.TokenizationError');

/**
 * Text that does not tokenise as required (e.g. an answer that is not exactly one token).
 *
 * @example
 * ```ts
 * throw new TokenizationError('toSingleToken: " Mary and" is 2 tokens; a single token is required.');
 * ```
 */
export class TokenizationError extends PatchLensError {
  /** True when `value` is a TokenizationError (from any copy of the package). */
  static override isInstance(value: unknown): value is TokenizationError {
    return hasMarker(value, tokenizationErrorBrand);
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenizationError';
    mark(this, tokenizationErrorBrand);
  }
}

const metricErrorBrand = Symbol.for('patchlens.error.MetricError');

/**
 * A metric returned something other than one finite number.
 *
 * @example
 * ```ts
 * throw new MetricError('gradientsAtHooks: the metric returned shape [2]; it must return a scalar.');
 * ```
 */
export class MetricError extends PatchLensError {
  /** True when `value` is a MetricError (from any copy of the package). */
  static override isInstance(value: unknown): value is MetricError {
    return hasMarker(value, metricErrorBrand);
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetricError';
    mark(this, metricErrorBrand);
  }
}

const abortErrorBrand = Symbol.for('patchlens.error.AbortError');

/**
 * A sweep was cancelled through its AbortSignal; everything it made has been disposed.
 *
 * @param message - default `'The operation was aborted.'`.
 * @example
 * ```ts
 * if (signal.aborted) throw new AbortError();
 * ```
 */
export class AbortError extends PatchLensError {
  /** True when `value` is an AbortError (from any copy of the package). */
  static override isInstance(value: unknown): value is AbortError {
    return hasMarker(value, abortErrorBrand);
  }

  constructor(message = 'The operation was aborted.', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
    mark(this, abortErrorBrand);
  }
}
