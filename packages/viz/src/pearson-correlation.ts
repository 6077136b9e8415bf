/**
 * Pearson correlation of two equally long series, over the pairs where both are finite.
 * NaN when fewer than two such pairs remain or either series is constant over them.
 *
 * @example
 * ```ts
 * pearsonCorrelation([1, 2, 3], [2, 4, 7]); // 0.993...
 * ```
 * @param first - first series.
 * @param second - second series, same length.
 */
export function pearsonCorrelation(first: ArrayLike<number>, second: ArrayLike<number>): number {
  const length = Math.min(first.length, second.length);
  let count = 0;
  let sumFirst = 0;
  let sumSecond = 0;
  for (let i = 0; i < length; i++) {
    const a = first[i]!;
    const b = second[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    count += 1;
    sumFirst += a;
    sumSecond += b;
  }
  if (count < 2) return Number.NaN;
  const meanFirst = sumFirst / count;
  const meanSecond = sumSecond / count;
  let covariance = 0;
  let varianceFirst = 0;
  let varianceSecond = 0;
  for (let i = 0; i < length; i++) {
    const a = first[i]!;
    const b = second[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    covariance += (a - meanFirst) * (b - meanSecond);
    varianceFirst += (a - meanFirst) ** 2;
    varianceSecond += (b - meanSecond) ** 2;
  }
  if (varianceFirst === 0 || varianceSecond === 0) return Number.NaN;
  return covariance / Math.sqrt(varianceFirst * varianceSecond);
}
