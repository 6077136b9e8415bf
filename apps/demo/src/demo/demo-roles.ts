import { displayToken } from '@patchlens/viz';
import type { IoiBatch } from '../ioi/ioi-batch.js';

/**
 * What a position of an IOI batch is, the same for every prompt of the batch (they share one
 * template, so positions line up): its role (`IO`, `S1`, `S2`, `END`; `IO/S1` when the role
 * differs between prompts, as with ABBA and BABA orders), and prompt 1's token as an example.
 */
export interface PositionRole {
  /** `IO`, `S1`, `S2`, `END`, `IO/S1`, ... or `''` for a position with no IOI role. */
  readonly role: string;
  /** Prompt 1's clean token at this position. */
  readonly token: string;
  /** Whether the prompts have different tokens here (names, places, objects). */
  readonly varies: boolean;
}

/**
 * The role of every position of a batch of IOI prompts: the indirect object (the clean answer),
 * the subject's first and second mention (the wrong answer), and the last position, where the
 * model predicts the name.
 *
 * @param batch - IOI prompts of one template (all rows the same length).
 * @param tokens - prompt 1's clean tokens as text, one per position.
 */
export function ioiPositionRoles(batch: IoiBatch, tokens: readonly string[]): PositionRole[] {
  const positions = batch.clean[0]!.length;
  const rolesByPosition = Array.from({ length: positions }, () => new Map<string, number>());
  batch.clean.forEach((row, prompt) => {
    let subjectSeen = false;
    row.forEach((id, position) => {
      let role: string | undefined;
      if (position === positions - 1) role = 'END';
      else if (id === batch.answerTokens[prompt]) role = 'IO';
      else if (id === batch.wrongTokens[prompt]) {
        role = subjectSeen ? 'S2' : 'S1';
        subjectSeen = true;
      }
      if (role !== undefined) {
        const counts = rolesByPosition[position]!;
        counts.set(role, (counts.get(role) ?? 0) + 1);
      }
    });
  });
  return rolesByPosition.map((counts, position) => ({
    role: [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([role]) => role)
      .join('/'),
    token: tokens[position] ?? '',
    varies: batch.clean.some((row) => row[position] !== batch.clean[0]![position]),
  }));
}

/**
 * Axis labels for heatmaps of a whole batch: the role and prompt 1's token (`S2 ␣John`), or the
 * token alone, marked `*` where the prompts' tokens differ. Pass them as `tokens` to the figures.
 */
export function roleLabels(roles: readonly PositionRole[]): string[] {
  return roles.map(({ role, token, varies }) => {
    const shown = `${displayToken(token)}${varies && role === '' ? '*' : ''}`;
    return role === '' ? shown : `${role} ${shown}`;
  });
}

/** Words for a position in the summary: `S2 (" John" in prompt 1)` or `" the"`. */
export function positionWords(roles: readonly PositionRole[], position: number): string {
  const entry = roles[position];
  if (entry === undefined) return `position ${position}`;
  const token = JSON.stringify(entry.token);
  return entry.role === ''
    ? `position ${position} (${token})`
    : `${entry.role} (${token} in prompt 1)`;
}

/** Positions of the IOI roles in one prompt. */
export interface PromptRolePositions {
  readonly IO: number;
  readonly S1: number;
  readonly S2: number;
  readonly END: number;
}

/**
 * Where IO, S1, S2 and END are in each prompt of the batch (IO and S1 swap places between
 * ABBA and BABA prompts; -1 when a prompt lacks the role).
 */
export function promptRolePositions(batch: IoiBatch): PromptRolePositions[] {
  return batch.clean.map((row, prompt) => {
    const subject = row.flatMap((id, position) =>
      id === batch.wrongTokens[prompt] && position < row.length - 1 ? [position] : [],
    );
    return {
      IO: row.indexOf(batch.answerTokens[prompt]!),
      S1: subject[0] ?? -1,
      S2: subject[1] ?? -1,
      END: row.length - 1,
    };
  });
}
