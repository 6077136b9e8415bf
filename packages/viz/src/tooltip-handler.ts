import type { TooltipHandler } from 'vega';

const TOOLTIP_CLASS = 'patchlens-tooltip';

function entriesOf(value: unknown): [string, string][] {
  if (value === null || value === undefined || value === '') return [];
  if (typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).map(([key, entry]) => [
      key,
      String(entry),
    ]);
  }
  return [['', String(value)]];
}

/**
 * A small tooltip for a vega View in the browser: one `key: value` row per tooltip field,
 * in a `div.patchlens-tooltip` that follows the pointer (one such element per page, shared
 * by every mounted figure). Text is set with `textContent`,
 * so token strings are never parsed as HTML.
 *
 * @example
 * ```ts
 * const view = new vega.View(runtime, { renderer: 'svg', container: element, hover: true });
 * view.tooltip(createTooltipHandler(document));
 * ```
 * @param document - the document whose body holds the tooltip element.
 * Limitations: the tooltip element stays in the page (hidden) after the view is finalised.
 */
export function createTooltipHandler(document: Document): TooltipHandler {
  return (_handler, event, _item, value) => {
    const entries = entriesOf(value);
    let box = document.querySelector<HTMLDivElement>(`div.${TOOLTIP_CLASS}`) ?? undefined;
    if (entries.length === 0) {
      if (box !== undefined) box.style.display = 'none';
      return;
    }
    if (box === undefined) {
      box = document.createElement('div');
      box.className = TOOLTIP_CLASS;
      box.setAttribute('role', 'tooltip');
      Object.assign(box.style, {
        position: 'fixed',
        pointerEvents: 'none',
        zIndex: '1000',
        background: 'rgba(255,255,255,0.97)',
        border: '1px solid #999',
        borderRadius: '3px',
        padding: '4px 7px',
        font: '12px/1.4 system-ui, sans-serif',
        color: '#111',
        boxShadow: '0 1px 4px rgba(0,0,0,0.25)',
        whiteSpace: 'pre',
      });
      document.body.appendChild(box);
    }
    box.replaceChildren();
    for (const [key, text] of entries) {
      const row = document.createElement('div');
      if (key !== '') {
        const name = document.createElement('b');
        name.textContent = `${key}: `;
        row.appendChild(name);
      }
      row.appendChild(document.createTextNode(text));
      box.appendChild(row);
    }
    box.style.display = 'block';
    const viewportWidth = document.documentElement.clientWidth;
    const left = Math.min(event.clientX + 14, Math.max(0, viewportWidth - box.offsetWidth - 4));
    box.style.left = `${left}px`;
    box.style.top = `${event.clientY + 14}px`;
  };
}
