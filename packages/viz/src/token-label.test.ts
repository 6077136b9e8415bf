import { describe, expect, it } from 'vitest';
import { displayToken, tokenLabel, truncateLabel } from './token-label.js';

describe('token labels', () => {
  it('shows leading and trailing spaces, newlines and tabs', () => {
    expect(displayToken(' Mary')).toBe('␣Mary');
    expect(displayToken('  x ')).toBe('␣␣x␣');
    expect(displayToken(' ')).toBe('␣');
    expect(displayToken('\n')).toBe('↵');
    expect(displayToken('a\tb')).toBe('a⇥b');
    expect(displayToken('')).toBe('∅');
    expect(displayToken('New York')).toBe('New York');
  });

  it('prefixes the position so repeated tokens stay distinct, and caps the length', () => {
    expect(tokenLabel(3, ' Mary')).toBe('3: ␣Mary');
    expect(tokenLabel(10, ' John')).not.toBe(tokenLabel(2, ' John'));
    expect(tokenLabel(7, ' extraordinarily', 8)).toBe('7: ␣extrao…');
    expect(truncateLabel('abc', 3)).toBe('abc');
    expect(truncateLabel('😀😀😀😀', 3)).toBe('😀😀…');
  });
});
