import { estimateTextWidthPx } from './text-metrics.js';

/** Clamps `value` into `[low, high]`. */
export function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Band size (px) of one of `count` cells sharing about `target` px, kept within `[min, max]`. */
export function bandStep(count: number, target: number, min: number, max: number): number {
  return clamp(Math.floor(target / Math.max(1, count)), min, max);
}

/** Font size (px) of axis labels for a band of `step` px: 11 at most, small enough to not overlap. */
export function labelFontSize(step: number): number {
  return clamp(Math.floor(step) - 2, 7, 11);
}

/**
 * Angle of x-axis labels: horizontal when the longest label fits its band, -45 degrees when the
 * band is wide enough for slanted text, else vertical (-90).
 */
export function xLabelAngle(labels: readonly string[], step: number, fontSize: number): number {
  const widest = Math.max(0, ...labels.map((label) => estimateTextWidthPx(label, fontSize)));
  if (widest <= step - 2) return 0;
  if (step >= fontSize * 1.8) return -45;
  return -90;
}
