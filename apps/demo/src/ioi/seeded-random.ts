/**
 * A small seeded pseudo-random number generator (mulberry32): the same seed gives the same
 * sequence on every platform, so IOI datasets and weight initialisations are reproducible.
 *
 * @example
 * ```ts
 * const random = new SeededRandom(42);
 * const x = random.next(); // in [0, 1)
 * const name = random.pick(['Mary', 'John']);
 * ```
 *
 * Limitations: 32-bit state (period 2^32); fine for sampling data, not for cryptography.
 */
export class SeededRandom {
  private state: number;

  /** @param seed - any integer; it is reduced to 32 bits. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, exclusiveMax). */
  nextInt(exclusiveMax: number): number {
    return Math.floor(this.next() * exclusiveMax);
  }

  /** One element of a non-empty array, chosen uniformly. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.nextInt(items.length)];
    if (item === undefined) throw new RangeError('SeededRandom.pick: the array is empty.');
    return item;
  }

  /** A standard normal sample (Box-Muller). */
  nextGaussian(): number {
    const u = 1 - this.next(); // in (0, 1]: log stays finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A shuffled copy of `items` (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const swap = copy[i] as T;
      copy[i] = copy[j] as T;
      copy[j] = swap;
    }
    return copy;
  }
}
