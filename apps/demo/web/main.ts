// The page's wiring: backend, model, prompt form, sweeps, run/cancel, results. The work itself is
// in the modules it imports (one idea each); this file only moves values between them and the DOM.
import type { BackendPreference } from '@patchlens/backends';
import { GPT2Tokenizer } from '@patchlens/models-gpt2';
import { AbortError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { heldOutIoiBatch, transformerLensIoiBatch } from '../src/demo/demo-prompts.js';
import { BACKEND_CHOICES, type StartedBackend, startBackend } from './backend-start.js';
import { type LoadedModel, loadModel, type ModelSource } from './model-source.js';
import { ioiBatchText, type PromptText, promptBatchFromText } from './prompt-batch.js';
import { type ResultsHandle, showResults } from './results-view.js';
import { DEFAULT_SWEEPS, runSweeps, SWEEP_CHOICES } from './sweep-run.js';

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`PatchLens demo: the page has no #${id}.`);
  return node as T;
}

const ui = {
  backendSelect: byId<HTMLSelectElement>('backend-select'),
  backendStatus: byId<HTMLOutputElement>('backend-status'),
  loadBundled: byId<HTMLButtonElement>('load-bundled'),
  checkpointFolder: byId<HTMLInputElement>('checkpoint-folder'),
  modelProgress: byId<HTMLProgressElement>('model-progress'),
  modelStatus: byId<HTMLOutputElement>('model-status'),
  form: byId<HTMLFormElement>('patch-form'),
  clean: byId<HTMLTextAreaElement>('clean-prompts'),
  corrupted: byId<HTMLTextAreaElement>('corrupted-prompts'),
  answers: byId<HTMLTextAreaElement>('answers'),
  wrong: byId<HTMLTextAreaElement>('wrong-answers'),
  ioiBatch: byId<HTMLButtonElement>('ioi-batch'),
  ioiCount: byId<HTMLInputElement>('ioi-count'),
  sweepChoices: byId<HTMLFieldSetElement>('sweep-choices'),
  run: byId<HTMLButtonElement>('run'),
  cancel: byId<HTMLButtonElement>('cancel'),
  runProgress: byId<HTMLProgressElement>('run-progress'),
  runStatus: byId<HTMLOutputElement>('run-status'),
  results: byId<HTMLElement>('results'),
};

const state: {
  backend?: StartedBackend;
  source?: ModelSource;
  loaded?: LoadedModel;
  results?: ResultsHandle;
  running?: AbortController;
} = {};

function setStatus(output: HTMLOutputElement, status: string, text: string): void {
  output.dataset['state'] = status;
  output.textContent = text;
}

/** An error in the page's words: the message without the library function's name. */
function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^[A-Za-z_][\w.]*: /, '');
}

/** Clears the previous run's figures and progress, so nothing stale stays under a new message. */
function clearResults(): void {
  state.results?.dispose();
  state.results = undefined;
  ui.results.replaceChildren();
  ui.runProgress.value = 0;
  delete ui.runStatus.dataset['leakedTensors'];
}

/** Buttons follow the state: nothing runs without a model, nothing loads while a run is going. */
function refreshButtons(): void {
  const running = state.running !== undefined;
  ui.run.disabled = running || !state.loaded;
  ui.ioiBatch.disabled = running || !state.loaded;
  ui.cancel.disabled = !running;
  ui.backendSelect.disabled = running;
  ui.loadBundled.disabled = running;
  ui.checkpointFolder.disabled = running;
}

function setPromptText(text: PromptText): void {
  ui.clean.value = text.clean;
  ui.corrupted.value = text.corrupted;
  ui.answers.value = text.answers;
  ui.wrong.value = text.wrong;
}

async function switchBackend(preference: BackendPreference): Promise<void> {
  state.loaded?.model.dispose();
  state.loaded = undefined;
  refreshButtons();
  setStatus(ui.backendStatus, 'starting', `starting ${preference}…`);
  try {
    state.backend = await startBackend(preference);
    const { name, device, note } = state.backend;
    ui.backendStatus.dataset['backend'] = name;
    const detail = [device, note].filter((part) => part).join('; ');
    setStatus(ui.backendStatus, 'ready', `running on ${name}${detail ? ` (${detail})` : ''}`);
  } catch (error) {
    ui.backendStatus.dataset['backend'] = '';
    setStatus(ui.backendStatus, 'error', message(error));
    throw error;
  }
}

async function load(source: ModelSource): Promise<void> {
  state.loaded?.model.dispose();
  state.loaded = undefined;
  state.source = source;
  refreshButtons();
  ui.modelProgress.value = 0;
  setStatus(ui.modelStatus, 'loading', 'loading…');
  try {
    const loaded = await loadModel(source, ({ loadedBytes, totalBytes }) => {
      if (totalBytes) ui.modelProgress.value = loadedBytes / totalBytes;
      setStatus(ui.modelStatus, 'loading', `loading… ${(loadedBytes / 2 ** 20).toFixed(1)} MiB`);
    });
    state.loaded = loaded;
    ui.modelProgress.value = 1;
    const { nLayers, nHeads, dModel, dVocab } = loaded.model.config;
    setStatus(
      ui.modelStatus,
      'ready',
      `${loaded.name}: ${nLayers} layers, ${nHeads} heads, dModel ${dModel}, ${dVocab} tokens`,
    );
  } catch (error) {
    const hint =
      source.kind === 'bundled'
        ? ' (is packages/ioi-model/model there? else pick a checkpoint folder)'
        : '';
    setStatus(ui.modelStatus, 'error', `${message(error)}${hint}`);
  } finally {
    refreshButtons();
  }
}

function selectedSweeps(): (typeof SWEEP_CHOICES)[number][] {
  return SWEEP_CHOICES.filter(
    (sweep) => ui.sweepChoices.querySelector<HTMLInputElement>(`input[value="${sweep}"]`)?.checked,
  );
}

async function run(): Promise<void> {
  const loaded = state.loaded;
  if (!loaded || state.running) return;
  clearResults();
  const sweeps = selectedSweeps();
  let batch: ReturnType<typeof promptBatchFromText>;
  try {
    if (sweeps.length === 0) throw new Error('Tick at least one sweep.');
    batch = promptBatchFromText(loaded.tokenizer, {
      clean: ui.clean.value,
      corrupted: ui.corrupted.value,
      answers: ui.answers.value,
      wrong: ui.wrong.value,
    });
    const { nCtx } = loaded.model.config;
    const tooLong = batch.clean.findIndex((row) => row.length > nCtx);
    if (tooLong >= 0) {
      throw new Error(
        `prompt ${tooLong + 1} has ${batch.clean[tooLong]!.length} tokens (BOS included), more than the model's context of ${nCtx} positions (n_positions in config.json); shorten it.`,
      );
    }
  } catch (error) {
    setStatus(ui.runStatus, 'error', message(error));
    return;
  }
  const controller = new AbortController();
  state.running = controller;
  refreshButtons();
  setStatus(ui.runStatus, 'running', 'clean and corrupted runs…');
  const tensorsBefore = tf.memory().numTensors;
  const started = performance.now();
  try {
    const result = await runSweeps(loaded.model, batch, sweeps, {
      signal: controller.signal,
      onProgress: (sweep, done, total) => {
        ui.runProgress.value = (sweeps.indexOf(sweep) + done / total) / sweeps.length;
        setStatus(ui.runStatus, 'running', `${sweep}: ${done}/${total} patches`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    state.results = await showResults(ui.results, result, {
      config: loaded.model.config,
      backend: state.backend?.name ?? tf.getBackend(),
      batch,
      tokens: loaded.model.toStrTokens(batch.clean[0]!),
    });
    ui.runProgress.value = 1;
    const leaked = tf.memory().numTensors - tensorsBefore;
    ui.runStatus.dataset['leakedTensors'] = String(leaked);
    setStatus(
      ui.runStatus,
      'done',
      `done in ${seconds.toFixed(1)} s on ${state.backend?.name}${leaked === 0 ? '' : ` (${leaked} tensors leaked)`}`,
    );
  } catch (error) {
    clearResults();
    if (AbortError.isInstance(error)) setStatus(ui.runStatus, 'cancelled', 'cancelled');
    else setStatus(ui.runStatus, 'error', message(error));
  } finally {
    state.running = undefined;
    refreshButtons();
  }
}

function fillChoices(): void {
  for (const choice of BACKEND_CHOICES) ui.backendSelect.add(new Option(choice, choice));
  for (const sweep of SWEEP_CHOICES) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = sweep;
    box.checked = DEFAULT_SWEEPS.includes(sweep);
    label.append(box, ` ${sweep}`);
    ui.sweepChoices.append(label);
  }
  // TransformerLens's first IOI prompt as the example
  const example = transformerLensIoiBatch(new GPT2Tokenizer()).prompts[0]!;
  setPromptText({
    clean: example.clean,
    corrupted: example.corrupted,
    answers: example.answer,
    wrong: example.wrong,
  });
}

function wireEvents(): void {
  ui.backendSelect.addEventListener('change', async () => {
    await switchBackend(ui.backendSelect.value as BackendPreference).catch(() => undefined);
    if (state.backend && state.source) await load(state.source);
  });
  ui.loadBundled.addEventListener('click', () => load({ kind: 'bundled' }));
  ui.checkpointFolder.addEventListener('change', () => {
    const files = [...(ui.checkpointFolder.files ?? [])];
    if (files.length > 0) void load({ kind: 'files', files });
  });
  ui.ioiBatch.addEventListener('click', () => {
    const loaded = state.loaded;
    if (!loaded) return;
    try {
      const count = Math.max(1, Math.min(64, Math.round(ui.ioiCount.valueAsNumber || 8)));
      const tokenizer = loaded.tokenizer;
      setPromptText(
        ioiBatchText(
          loaded.bundled ? heldOutIoiBatch(tokenizer, count) : transformerLensIoiBatch(tokenizer),
        ),
      );
    } catch (error) {
      setStatus(ui.runStatus, 'error', message(error));
    }
  });
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  ui.cancel.addEventListener('click', () => state.running?.abort());
}

fillChoices();
wireEvents();
try {
  await switchBackend('auto');
  await load({ kind: 'bundled' });
} catch {
  // the status lines say what failed; the controls stay usable
}
