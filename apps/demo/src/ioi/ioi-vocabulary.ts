/**
 * The words the IOI prompts are built from. Every entry, written with a leading space
 * (`" Mary"`, `" store"`), is ONE token of GPT-2's tokenizer (r50k_base); a test checks it.
 */

/** Split lines of space-separated words into one list. */
function words(...lines: string[]): string[] {
  return lines.flatMap((line) => line.split(' '));
}

/**
 * The 100 first names the bundled IOI model was trained on (in pairs; some pairs are held out).
 *
 * @example
 * ```ts
 * import { IOI_TRAINING_NAMES } from '@patchlens/demo';
 * IOI_TRAINING_NAMES.includes('Mary'); // true
 * ```
 */
export const IOI_TRAINING_NAMES: readonly string[] = words(
  'Mary John Tom James Dan Sarah Paul Lisa Anna Emma',
  'Kate Jack Mike David Peter Chris Steve Alex Sam Ben',
  'Jake Tim Joe Bob Jim Ryan Adam Eric Kevin Brian',
  'Jason Matt Luke Henry George Charles Frank Andrew Michael Daniel',
  'Robert Richard Thomas Joseph William Edward Scott Sean Jeff Greg',
  'Carl Fred Martin Simon Oliver Harry Jacob Ethan Noah Nick',
  'Tony Victor Patrick Justin Aaron Kyle Josh Jessica Jennifer Amy',
  'Laura Rachel Rebecca Julia Alice Emily Olivia Sophie Claire Helen',
  'Susan Karen Linda Nancy Betty Maria Jane Lucy Amanda Diana',
  'Kelly Michelle Nicole Heather Megan Hannah Elizabeth Catherine Victoria Jenny',
);

/**
 * 20 first names the bundled IOI model never saw in training (neither in prompts nor as answers).
 *
 * @example
 * ```ts
 * import { IOI_UNSEEN_NAMES } from '@patchlens/demo';
 * IOI_UNSEEN_NAMES.length; // 20
 * ```
 */
export const IOI_UNSEEN_NAMES: readonly string[] = words(
  'Nathan Samuel Walter Arthur Howard Roger Gary Larry Louis Ross',
  'Lily Chloe Zoe Sally Molly Wendy Angela Monica Natalie Caroline',
);

/**
 * Places (`the [PLACE]`) used by the templates.
 *
 * @example
 * ```ts
 * import { IOI_PLACES } from '@patchlens/demo';
 * IOI_PLACES[0]; // 'store'
 * ```
 */
export const IOI_PLACES: readonly string[] = words(
  'store park school office station market beach library hospital restaurant',
  'garden house kitchen shop cafe museum theater hotel church zoo',
);

/**
 * Objects (`a [OBJECT]`) used by the templates; all start with a consonant sound.
 *
 * @example
 * ```ts
 * import { IOI_OBJECTS } from '@patchlens/demo';
 * IOI_OBJECTS[0]; // 'drink'
 * ```
 */
export const IOI_OBJECTS: readonly string[] = words(
  'drink book ball gift letter bag hat cake card key',
  'pen ring box bottle phone flower toy note cup map',
);
