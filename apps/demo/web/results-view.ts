import { patchRunJson } from '@patchlens/patching';
import type { ModelConfig } from '@patchlens/tensor-hooks';
import { NORMALIZED_SCALE, patchHeatmap } from '@patchlens/viz';
import { normalizeResult } from '../src/demo/demo-sweeps.js';
import type { PromptBatch } from './prompt-batch.js';
import type { SweepRun } from './sweep-run.js';

/**
 * What {@link showResults} draws besides the run itself.
 *
 * @example
 * ```ts
 * const context: ResultsContext = { config: model.config, backend: 'webgpu', batch, tokens: model.toStrTokens(batch.clean[0]!) };
 * ```
 */
export interface ResultsContext {
  /** The model's dimensions (written into the downloadable JSON). */
  readonly config: ModelConfig;
  /** The backend that ran the sweeps, e.g. `webgpu`. */
  readonly backend: string;
  /** The prompts' token ids. */
  readonly batch: PromptBatch;
  /** The first clean prompt's tokens as text, one per position (axis labels). */
  readonly tokens: readonly string[];
}

/**
 * Drawn results; `dispose()` removes the heatmaps' listeners and the download URL.
 *
 * @example
 * ```ts
 * const view: ResultsHandle = await showResults(container, run, context);
 * view.dispose(); // before drawing the next run
 * ```
 */
export interface ResultsHandle {
  dispose(): void;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

function timingsTable(run: SweepRun): HTMLTableElement {
  const table = element('table', undefined, 'timings');
  table.append(element('caption', 'Wall time per sweep (values read back included)'));
  const head = table.createTHead().insertRow();
  for (const title of ['step', 'patches', 'ms']) head.append(element('th', title));
  const body = table.createTBody();
  const row = (step: string, patches: string, milliseconds: number) => {
    const cells = body.insertRow();
    cells.dataset['step'] = step;
    cells.append(
      element('td', step),
      element('td', patches),
      element('td', milliseconds.toFixed(0)),
    );
  };
  row('clean + corrupted runs', '', run.prepareMilliseconds);
  for (const [sweep, result] of Object.entries(run.results)) {
    row(sweep, String(result.values.length), run.milliseconds[sweep] ?? Number.NaN);
  }
  return table;
}

/**
 * Draws a finished run into `container`: both logit differences, the timings, a link to the run as
 * `patchlens patch` JSON (raw values), and one interactive heatmap (with tooltips) per sweep,
 * normalised so 0 = the corrupted run and 1 = the clean run restored.
 *
 * @param container - emptied, then filled.
 * @param run - from `runSweeps`.
 * @param context - model, backend, prompts and token labels, see {@link ResultsContext}.
 * @returns a handle to free the figures before drawing the next run.
 * @example
 * ```ts
 * const view = await showResults(document.getElementById('results')!, run, { config: model.config, backend: 'webgpu', batch, tokens });
 * view.dispose();
 * ```
 */
export async function showResults(
  container: HTMLElement,
  run: SweepRun,
  context: ResultsContext,
): Promise<ResultsHandle> {
  container.replaceChildren();
  const json = patchRunJson({
    model: context.config,
    backend: context.backend,
    tokens: { clean: context.batch.clean, corrupted: context.batch.corrupted },
    metric: { name: 'logit-diff', clean: run.clean, corrupted: run.corrupted },
    results: run.results,
  });
  const downloadUrl = URL.createObjectURL(
    new Blob([JSON.stringify(json)], { type: 'application/json' }),
  );
  const summary = element('p', undefined, 'summary');
  summary.id = 'logit-diffs';
  summary.append(
    `Logit difference (answer − wrong, last position, mean of ${context.batch.clean.length} prompts): clean `,
    element('strong', run.clean.toFixed(3)),
    ', corrupted ',
    element('strong', run.corrupted.toFixed(3)),
    `, on ${context.backend}. Heatmaps show (patched − corrupted) / (clean − corrupted): 1 = clean restored, 0 = no effect, on a fixed −1…1 colour scale (values beyond are clipped; hover for the exact value). `,
  );
  const download = element('a', 'Download results (JSON)');
  download.id = 'download-results';
  download.href = downloadUrl;
  download.download = 'patchlens-results.json';
  summary.append(download);
  container.append(summary, timingsTable(run));

  const views: { finalize(): void }[] = [];
  for (const [sweep, result] of Object.entries(run.results)) {
    const normalized = normalizeResult(result, run.clean, run.corrupted);
    const figure = patchHeatmap(normalized, {
      tokens: context.tokens,
      title: `${sweep} (${(run.milliseconds[sweep] ?? 0).toFixed(0)} ms)`,
      valueLabel: 'restored',
      cellValues: normalized.shape.length === 2 && normalized.values.length <= 100,
      ...NORMALIZED_SCALE,
    });
    const section = element('section', undefined, 'sweep');
    section.dataset['sweep'] = sweep;
    const plot = element('div', undefined, 'plot');
    section.append(plot, element('p', figure.caption, 'caption'));
    container.append(section);
    views.push(await figure.mount(plot));
  }
  return {
    dispose() {
      for (const view of views) view.finalize();
      URL.revokeObjectURL(downloadUrl);
    },
  };
}
