import { PatchLensError } from '@patchlens/errors';

const vizInputErrorBrand = Symbol.for('patchlens.error.VizInputError');

/**
 * Thrown when a `@patchlens/viz` function gets input it cannot draw: lengths that
 * disagree (tokens vs positions, exact vs approximate values), an empty result, a
 * shape that does not match its values, or an axis layout no figure knows.
 *
 * A `PatchLensError` (from the dependency-free `@patchlens/errors`), so
 * `PatchLensError.isInstance(error)` is true for it.
 *
 * @example
 * ```ts
 * import { patchHeatmap, VizInputError } from '@patchlens/viz';
 * try {
 *   patchHeatmap({ values: [1, 2], shape: [1, 2], axes: ['layer', 'pos'] }, { tokens: ['a'] });
 * } catch (error) {
 *   if (VizInputError.isInstance(error)) console.error(error.message);
 * }
 * ```
 */
export class VizInputError extends PatchLensError {
  /**
   * @param message - names the function, the argument, the value received and what is accepted.
   * @param options - `cause`, when the error wraps another one.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VizInputError';
    Object.defineProperty(this, vizInputErrorBrand, { value: true, enumerable: false });
  }

  /** True when `value` is a `VizInputError` (from any copy of this package). */
  static override isInstance(value: unknown): value is VizInputError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[vizInputErrorBrand] === true
    );
  }
}
