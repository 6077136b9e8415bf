/**
 * One IOI sentence pattern. Placeholders: `{A}` and `{B}` are the two names in the order of
 * first mention, `{S}` is the second mention of the subject, `{PLACE}` and `{OBJECT}` are
 * filled from {@link IOI_PLACES} and {@link IOI_OBJECTS}. Every placeholder follows a space,
 * so each filled-in word is one token; the prompt ends just before the indirect object.
 */
export interface IoiTemplate {
  /** Stable id, used in reports and model cards (`train-03`, `held-out-01`). */
  readonly id: string;
  /** The pattern with placeholders. */
  readonly pattern: string;
}

/**
 * The 24 templates the bundled IOI model was trained on.
 *
 * @example
 * ```ts
 * import { IOI_TRAINING_TEMPLATES } from '@patchlens/demo';
 * IOI_TRAINING_TEMPLATES[0]?.pattern; // 'When {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to'
 * ```
 */
export const IOI_TRAINING_TEMPLATES: readonly IoiTemplate[] = [
  'When {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to',
  'When {A} and {B} got a {OBJECT} at the {PLACE}, {S} decided to give it to',
  'After {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to',
  'While {A} and {B} were working at the {PLACE}, {S} gave a {OBJECT} to',
  'Then, {A} and {B} were thinking about going to the {PLACE}. {S} wanted to give a {OBJECT} to',
  'Then, {A} and {B} had a long argument, and afterwards {S} said to',
  'Friends {A} and {B} found a {OBJECT} at the {PLACE}. {S} gave it to',
  'Today {A} and {B} had a lot of fun at the {PLACE}. {S} gave a {OBJECT} to',
  'When {A} and {B} arrived at the {PLACE}, {S} handed a {OBJECT} to',
  'Once {A} and {B} met at the {PLACE}, {S} passed the {OBJECT} to',
  'At the {PLACE}, {A} and {B} ate dinner. Later, {S} sent a {OBJECT} to',
  'Earlier, {A} and {B} were at the {PLACE} when {S} brought a {OBJECT} to',
  'The {PLACE} was busy, so {A} and {B} left early. {S} gave a {OBJECT} to',
  'Last week {A} and {B} visited the {PLACE}, where {S} bought a {OBJECT} for',
  'Since {A} and {B} both liked the {PLACE}, {S} showed a {OBJECT} to',
  'In the morning, {A} and {B} walked to the {PLACE}. Then {S} gave a {OBJECT} to',
  'After lunch, {A} and {B} cleaned the {PLACE}, and {S} threw the {OBJECT} to',
  'When {A} and {B} got home from the {PLACE}, {S} left a {OBJECT} for',
  'Both {A} and {B} were tired after the {PLACE}, so {S} offered a {OBJECT} to',
  'During the trip to the {PLACE}, {A} and {B} talked a lot. {S} lent a {OBJECT} to',
  'Later that day, {A} and {B} stopped at the {PLACE}, and {S} sold a {OBJECT} to',
  'As {A} and {B} sat in the {PLACE}, {S} read a {OBJECT} to',
  'The {OBJECT} that {A} and {B} found at the {PLACE} was old, so {S} returned it to',
  'On Sunday, {A} and {B} cooked in the {PLACE}. Afterwards, {S} handed the {OBJECT} to',
].map((pattern, index) => ({ id: `train-${String(index).padStart(2, '0')}`, pattern }));

/**
 * 3 templates the bundled IOI model never saw in training (new wording and word order).
 *
 * @example
 * ```ts
 * import { IOI_HELD_OUT_TEMPLATES } from '@patchlens/demo';
 * IOI_HELD_OUT_TEMPLATES.length; // 3
 * ```
 */
export const IOI_HELD_OUT_TEMPLATES: readonly IoiTemplate[] = [
  'Then {A} and {B} went to the {PLACE}. {S} showed a {OBJECT} to',
  'Yesterday {A} and {B} walked to the {PLACE}, and {S} threw a {OBJECT} to',
  'The {PLACE} that {A} and {B} visited had a {OBJECT}, so {S} brought one to',
].map((pattern, index) => ({ id: `held-out-${String(index).padStart(2, '0')}`, pattern }));
