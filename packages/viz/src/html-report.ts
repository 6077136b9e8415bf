import type { Figure } from './figure.js';
import { VizInputError } from './viz-input-error.js';

/** One section of an {@link htmlReport}: a heading, an optional caption, and an optional figure. */
export interface ReportSection {
  /** Section heading. */
  readonly title: string;
  /** A short paragraph under the heading (plain text; HTML is escaped). */
  readonly caption?: string;
  /** A bulleted list under the caption (plain text items; HTML is escaped). */
  readonly bullets?: readonly string[];
  /** The figure, embedded as static SVG with its own caption below it. */
  readonly figure?: Figure;
}

/** Options of {@link htmlReport}. */
export interface HtmlReportOptions {
  /** Page title and top heading, default `PatchLens report`. */
  readonly title?: string;
  /** A paragraph under the top heading (plain text). */
  readonly description?: string;
}

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; padding: 24px 32px 48px; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a; background: #fff; }
header { max-width: 72ch; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 32px 0 4px; border-top: 1px solid #e5e5e5; padding-top: 20px; }
p { margin: 4px 0 10px; max-width: 90ch; }
ul { margin: 4px 0 10px; padding-left: 22px; max-width: 90ch; }
li { margin: 3px 0; }
figure { margin: 8px 0 0; }
.plot { overflow-x: auto; max-width: 100%; }
.plot svg { display: block; max-width: none; height: auto; }
figcaption { font-size: 13px; color: #555; max-width: 110ch; margin-top: 6px; }
`;

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * Gives every `id` in an SVG document a prefix (and rewrites `url(#id)` and `href="#id"`
 * to match), so several SVGs can share one HTML page without their gradients or clip paths
 * colliding. Drops an XML declaration if there is one.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/^<\?xml[^>]*\?>\s*/, '')
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}${id})`)
    .replace(
      /(\s(?:xlink:)?href)="#([^"]+)"/g,
      (_, attribute: string, id: string) => `${attribute}="#${prefix}${id}"`,
    );
}

/**
 * Builds one self-contained HTML page from titled sections: every figure is embedded as
 * static SVG, styles are inline, and there are no scripts, fonts or other requests
 * (a Content-Security-Policy forbids them), so the file opens offline and can be mailed.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { htmlReport, patchHeatmap } from '@patchlens/viz';
 * const html = await htmlReport(
 *   [{ title: 'Residual stream', caption: 'Patching resid_pre.', figure: patchHeatmap(result, { tokens }) }],
 *   { title: 'IOI patching' },
 * );
 * await writeFile('report.html', html);
 * ```
 * @param sections - headings, captions and figures, in page order.
 * @param options - `title` (default `PatchLens report`) and `description`.
 * @throws VizInputError when `sections` is empty or a section has no title.
 * Limitations: static figures (no tooltips); use `figure.mount` for interactive views.
 */
export async function htmlReport(
  sections: readonly ReportSection[],
  options: HtmlReportOptions = {},
): Promise<string> {
  const functionName = 'htmlReport';
  if (!Array.isArray(sections) || sections.length === 0) {
    throw new VizInputError(
      `${functionName}: sections must be a non-empty array of { title, caption?, figure? }; got ${Array.isArray(sections) ? 'an empty array' : typeof sections}.`,
    );
  }
  sections.forEach((section, index) => {
    if (typeof section?.title !== 'string' || section.title.length === 0) {
      throw new VizInputError(
        `${functionName}: sections[${index}].title must be a non-empty string; got ${typeof section?.title}.`,
      );
    }
  });
  const title = options.title ?? 'PatchLens report';
  const svgs = await Promise.all(
    sections.map((section) => (section.figure !== undefined ? section.figure.toSVG() : undefined)),
  );
  const body = sections
    .map((section, index) => {
      const parts = [
        `<section id="section-${index + 1}">`,
        `<h2>${escapeHtml(section.title)}</h2>`,
      ];
      if (section.caption !== undefined && section.caption.length > 0) {
        parts.push(`<p>${escapeHtml(section.caption)}</p>`);
      }
      if (section.bullets !== undefined && section.bullets.length > 0) {
        parts.push(
          `<ul>${section.bullets.map((item: string) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`,
        );
      }
      const svg = svgs[index];
      if (section.figure !== undefined && svg !== undefined) {
        const label = escapeHtml(section.figure.title);
        parts.push(
          `<figure data-kind="${section.figure.kind}">`,
          `<div class="plot" role="img" aria-label="${label}">${prefixSvgIds(svg, `figure-${index + 1}-`)}</div>`,
          `<figcaption>${escapeHtml(section.figure.caption)}</figcaption>`,
          '</figure>',
        );
      }
      parts.push('</section>');
      return parts.join('\n');
    })
    .join('\n');
  const description =
    options.description !== undefined ? `<p>${escapeHtml(options.description)}</p>` : '';
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="@patchlens/viz">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<header><h1>${escapeHtml(title)}</h1>${description}</header>`,
    '<main>',
    body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
