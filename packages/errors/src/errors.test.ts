import { describe, expect, it } from 'vitest';
import {
  AbortError,
  InvalidArgumentError,
  MetricError,
  PatchLensError,
  SafetensorsFormatError,
  ShapeMismatchError,
  TokenizationError,
  UnknownHookError,
  WeightMappingError,
} from './errors.js';

const examples = [
  [ShapeMismatchError, new ShapeMismatchError('m', { expected: [2, null], actual: [3] })],
  [UnknownHookError, new UnknownHookError('hook_x', ['hook_embed'])],
  [InvalidArgumentError, new InvalidArgumentError('m')],
  [SafetensorsFormatError, new SafetensorsFormatError('m', 'wte')],
  [WeightMappingError, new WeightMappingError('m')],
  [TokenizationError, new TokenizationError('m')],
  [MetricError, new MetricError('m')],
  [AbortError, new AbortError()],
] as const;

describe('PatchLensError and its subclasses', () => {
  it.each(examples)('%o has its name, is an Error and a PatchLensError', (ErrorClass, error) => {
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.name).toBe(ErrorClass.name);
    expect(PatchLensError.isInstance(error)).toBe(true);
    expect(ErrorClass.isInstance(error)).toBe(true);
  });

  it('each subclass isInstance recognises only its own kind', () => {
    for (const [ErrorClass] of examples) {
      for (const [OtherClass, other] of examples) {
        expect(ErrorClass.isInstance(other)).toBe(ErrorClass === OtherClass);
      }
    }
  });

  it('rejects non-errors and plain errors', () => {
    for (const value of [null, undefined, 3, 'PatchLensError', new Error('plain'), {}]) {
      expect(PatchLensError.isInstance(value)).toBe(false);
      expect(ShapeMismatchError.isInstance(value)).toBe(false);
    }
  });

  it('recognises an error made by another copy of the package (Symbol.for brand)', () => {
    const foreign = Object.assign(new Error('from another copy'), {
      [Symbol.for('patchlens.error')]: true,
      [Symbol.for('patchlens.error.UnknownHookError')]: true,
    });
    expect(PatchLensError.isInstance(foreign)).toBe(true);
    expect(UnknownHookError.isInstance(foreign)).toBe(true);
    expect(MetricError.isInstance(foreign)).toBe(false);
  });

  it('keeps the cause and the details', () => {
    const cause = new Error('root');
    expect(new InvalidArgumentError('m', { cause }).cause).toBe(cause);
    const shape = new ShapeMismatchError('m', { expected: [2, null], actual: [3] }, { cause });
    expect(shape.expected).toEqual([2, null]);
    expect(shape.actual).toEqual([3]);
    expect(shape.cause).toBe(cause);
    expect(new SafetensorsFormatError('m', 'wte').tensorName).toBe('wte');
    expect(new AbortError().message).toBe('The operation was aborted.');
  });

  it('UnknownHookError lists its suggestions in the message', () => {
    const error = new UnknownHookError(
      'blocks.0.hook_resid_pr',
      ['blocks.0.hook_resid_pre'],
      ' (f)',
    );
    expect(error.message).toBe(
      'Unknown hook name "blocks.0.hook_resid_pr" (f). Did you mean "blocks.0.hook_resid_pre"?',
    );
    expect(error.suggestions).toEqual(['blocks.0.hook_resid_pre']);
    expect(new UnknownHookError('x', []).message).toBe('Unknown hook name "x".');
  });
});
