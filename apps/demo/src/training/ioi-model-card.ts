import type { IoiEvaluation } from '../ioi/ioi-evaluation.js';
import type { IoiSplits } from '../ioi/ioi-splits.js';
import { IOI_HELD_OUT_TEMPLATES, IOI_TRAINING_TEMPLATES } from '../ioi/ioi-templates.js';
import {
  IOI_OBJECTS,
  IOI_PLACES,
  IOI_TRAINING_NAMES,
  IOI_UNSEEN_NAMES,
} from '../ioi/ioi-vocabulary.js';
import type { IoiTrainingResult } from './train-ioi-model.js';

/** What the model card reports besides the training result. */
export interface IoiModelCardFacts {
  readonly result: IoiTrainingResult;
  readonly splits: IoiSplits;
  /** Evaluation of the stored checkpoint, per split. */
  readonly evaluations: Readonly<Record<keyof IoiSplits, IoiEvaluation>>;
  /** Prompts per split in the evaluation, and their seed. */
  readonly evaluationCount: number;
  readonly evaluationSeed: number;
  /** The tfjs backend training ran on. */
  readonly backend: string;
  /** Size of model.safetensors in bytes. */
  readonly checkpointBytes: number;
  /** Free text about the machine (CPU count, Node version). */
  readonly machine: string;
  /** A few of the name stand-ins, decoded (e.g. `" Boston"`), when there are any. */
  readonly pseudoNameExamples?: readonly string[];
}

const SPLIT_DESCRIPTIONS: Record<keyof IoiSplits, string> = {
  train: 'training templates x training pairs (seen in training)',
  heldOut: 'held-out templates x held-out pairs (**quality gate**)',
  heldOutTemplates: 'held-out templates x training pairs',
  heldOutPairs: 'training templates x held-out pairs',
  unseenNames: 'held-out templates x two names never seen in training',
  mixedNames: 'held-out templates x one training name + one unseen name',
  unseenNamesTrainingTemplates: 'training templates x two names never seen in training',
};

function percent(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}

/**
 * The README.md model card of the bundled IOI checkpoint: data, objective, hyper-parameters,
 * seeds, training time and the measured accuracy and logit difference per split.
 *
 * @param facts - the training result, the evaluations of the stored checkpoint and run details.
 * @returns Markdown text.
 * @example
 * ```ts
 * await writeFile('model/README.md', ioiModelCard({ result, splits, evaluations, ... }));
 * ```
 */
export function ioiModelCard(facts: IoiModelCardFacts): string {
  const { result, splits, evaluations } = facts;
  const { settings, config } = result;
  const last = result.history[result.history.length - 1];
  const rows = (Object.keys(SPLIT_DESCRIPTIONS) as (keyof IoiSplits)[]).map((name) => {
    const evaluation = evaluations[name];
    return `| \`${name}\` | ${SPLIT_DESCRIPTIONS[name]} | ${evaluation.count} | ${percent(evaluation.accuracy)} | ${evaluation.meanLogitDifference.toFixed(2)} |`;
  });
  const heldOutTemplates = Object.entries(evaluations.heldOut.byTemplate).map(
    ([id, score]) =>
      `| \`${id}\` | ${score.count} | ${percent(score.accuracy)} | ${score.meanLogitDifference.toFixed(2)} |`,
  );
  const orders = Object.entries(evaluations.heldOut.byOrder).map(
    ([order, score]) =>
      `| ${order} | ${score.count} | ${percent(score.accuracy)} | ${score.meanLogitDifference.toFixed(2)} |`,
  );
  const list = (items: readonly string[]) => items.map((item) => `\`${item}\``).join(', ');
  const templates = (items: typeof IOI_TRAINING_TEMPLATES) =>
    items.map((template) => `- \`${template.id}\`: ${template.pattern}`).join('\n');
  return `# patchlens-ioi: a small GPT-2 trained on Indirect Object Identification

A ${config.nLayers}-layer, ${config.nHeads}-head GPT-2 (d_model ${config.dModel}, d_mlp ${config.dMlp}, n_ctx ${config.nCtx},
GPT-2's 50257-token vocabulary and tokenizer \`r50k_base\`, tied embeddings, no \`lm_head\`) trained from
scratch by \`pnpm --filter @patchlens/demo train-ioi\` to complete IOI prompts:

> When Mary and John went to the store, John gave a drink to → " Mary"

It is a standard Hugging Face GPT-2 checkpoint (\`config.json\` + \`model.safetensors\`, F16,
${(facts.checkpointBytes / 1e6).toFixed(2)} MB) that \`@patchlens/models-gpt2\` (and \`transformers\`) load like any other. It
exists so that the PatchLens demo has a model with a real IOI circuit that runs in a browser. It knows
nothing but IOI: outside these prompts its outputs are meaningless.

## Results

Measured on this stored checkpoint, loaded with \`@patchlens/models-gpt2\`: full-vocabulary logits at
the last position, ${facts.evaluationCount} prompts per split (seed ${facts.evaluationSeed}), half ABBA and half BABA.
Accuracy = share of prompts where the answer logit exceeds the wrong name's logit; logit difference =
mean of logit(answer) - logit(wrong).

| split | prompts from | prompts | accuracy | mean logit difference |
|---|---|---|---|---|
${rows.join('\n')}

Held-out split by template and order:

| template | prompts | accuracy | mean logit difference |
|---|---|---|---|
${heldOutTemplates.join('\n')}

| order | prompts | accuracy | mean logit difference |
|---|---|---|---|
${orders.join('\n')}

## Data

Prompts are generated from templates (\`apps/demo/src/ioi\`); a prompt names two people, mentions one of
them (the subject) again, and ends where the other one (the indirect object) is the answer. Both
orders of first mention are used equally: ABBA ("When Mary and John ..., John gave ... to") and BABA
("When John and Mary ..., John gave ... to").

- Training names (${IOI_TRAINING_NAMES.length}): ${list(IOI_TRAINING_NAMES)}.
- Names never seen in training (${IOI_UNSEEN_NAMES.length}): ${list(IOI_UNSEEN_NAMES)}.
- Held-out pairs: ${splits.heldOut.pairs.length} of the ${splits.train.pairs.length + splits.heldOut.pairs.length} pairs of training names (10%, chosen with seed ${settings.splitSeed}) never
  appear together in a training prompt; each of their names appears with other names.
- Places (${IOI_PLACES.length}): ${list(IOI_PLACES)}.
- Objects (${IOI_OBJECTS.length}): ${list(IOI_OBJECTS)}.
- Every name, place and object with a leading space is one \`r50k_base\` token (checked by a test), so a
  prompt and its name-swapped corruption have the same length.

Training templates (${IOI_TRAINING_TEMPLATES.length}):

${templates(IOI_TRAINING_TEMPLATES)}

Held-out templates (${IOI_HELD_OUT_TEMPLATES.length}, never seen in training):

${templates(IOI_HELD_OUT_TEMPLATES)}

## Training

- Objective: cross-entropy of the indirect object at the last position, with the softmax over the
  training vocabulary: the ${result.vocabulary.tokenIds.length} tokens training prompts can contain (BOS, template words,
  places, objects, names${settings.pseudoNameCount > 0 ? ', name stand-ins' : ''}). Training runs on an embedding with just those rows; they are written back
  at their GPT-2 ids, and every other row of \`wte\` keeps its random initialisation. That equals
  full-vocabulary training in which only those rows get gradients, and avoids 50257-wide softmaxes
  and Adam updates, which with tied embeddings would push every unused row (including unseen names)
  away from the residual stream.${
    settings.freezeNameEmbeddings
      ? `
- Name embeddings are frozen at their random initialisation (N(0, ${settings.tokenEmbeddingStd}²)): they are read and
  unembedded but never updated, so the model must learn a copy mechanism that works for any random
  name vector, which is what lets it handle names it never saw.`
      : ''
  }
${
  settings.wordNoise > 0
    ? `- Word noise: each template word of a training prompt (not BOS, a name or the last token) is
  replaced with probability ${settings.wordNoise} by a random non-name word of the training vocabulary, so the model
  cannot lean on the exact wording of the training templates.
`
    : ''
}${
  settings.pseudoNameCount > 0
    ? `- Name stand-ins: in ${percent(settings.pseudoNameRate)} of the training prompts both names are replaced by two of
  ${result.vocabulary.pseudoNameIds.length} other GPT-2 tokens that are one capitalised word (${(facts.pseudoNameExamples ?? []).map((text) => `\`"${text}"\``).join(', ')}, ...; chosen
  with seed ${settings.dataSeed}; never a training or unseen name, nor a template word). Their embeddings stay at their random initialisation, which
  is what the embedding of a name the model never saw looks like, so the model learns to treat such a
  token in a name slot as a name.
`
    : ''
}- Batches of ${settings.batchSize} prompts sampled from the training split (prompts of different templates are
  right-padded; causal attention keeps padding from affecting the answer position).
- AdamW (β = 0.9, 0.999; weight decay ${settings.weightDecay} on \`c_attn\`, \`c_proj\`, \`c_fc\` weights), peak learning rate
  ${settings.learningRate}, ${settings.warmupSteps} warm-up steps, cosine decay to ${settings.finalLearningRateFraction} x peak, gradient clipping at global norm ${settings.gradientClipNorm},
  ${settings.steps} steps (${settings.steps * settings.batchSize} prompts).
- Initialisation: \`wte\` ~ N(0, ${settings.tokenEmbeddingStd}²), \`wpe\` ~ N(0, 0.02²), \`c_attn\`/\`c_fc\` ~ N(0, 1/d_model),
  \`c_proj\` ~ N(0, 1/(fan_in · 2 n_layer)), LayerNorm 1/0, biases 0.
- Seeds: initialisation ${settings.initSeed}, data ${settings.dataSeed}, held-out pairs ${settings.splitSeed}. The run is deterministic for a
  given backend (all randomness comes from a seeded generator in \`apps/demo/src/ioi/seeded-random.ts\`).
- Final training window: loss ${last?.loss.toFixed(3)}, accuracy ${percent(last?.accuracy ?? 0)}, logit difference ${last?.meanLogitDifference.toFixed(2)}.
- Training time: ${result.seconds.toFixed(0)} s on tfjs's ${facts.backend} backend (${facts.machine}).

## Limitations

- A toy: it has only seen IOI prompts, so its logits on any other text are meaningless.
- Names are single-token first names with a leading space; tokens that never occur in training keep
  random embeddings.
- Names never seen in training work less well than training names (\`unseenNames\`: ${percent(evaluations.unseenNames.accuracy)},
  mean logit difference ${evaluations.unseenNames.meanLogitDifference.toFixed(2)}); the quality gate (95%, logit difference 3) is on \`heldOut\`.
- Held-out templates with words training never used are weaker than the others (see the table by
  template).
- Stored in F16: the numbers above are measured on the F16 weights.
`;
}
