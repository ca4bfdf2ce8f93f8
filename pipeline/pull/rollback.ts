/**
 * No rollback: `pull` installs only the release the user asked for (`--expect-tag`), and never
 * one older than what is installed for the same variant (unless `--allow-downgrade`). "Older"
 * is decided by what was signed: the signing time in the trusted comment, which the receipt
 * records (`release.signedAt`); for an entry from before that, by the tags when both are
 * versions (v1.2.10 > v1.2.9). Pure.
 */
import type { InstalledVariant } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import type { SignedFields } from '../release/trusted-comment.ts';

/** The numbers of a version tag (`v2026.11.0` → [2026, 11, 0]), or undefined for other tags. */
export function versionOf(tag: string | undefined): number[] | undefined {
  const m = /^v?(\d+(?:\.\d+)*)$/.exec(tag ?? '');
  return m ? m[1]!.split('.').map(Number) : undefined;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Refuses a release whose signed tag is not the one the user expects. */
export function checkExpectedTag(expected: string | undefined, signed: SignedFields): void {
  if (expected !== undefined && signed.tag !== expected) {
    throw new ReleaseError('release', `is ${signed.kind} ${signed.tag ?? '(untagged)'}, not ${expected} as --expect-tag asks`, 'check the release URL');
  }
}

export interface InstalledRelease {
  readonly tag: string | undefined;
  readonly signedAt?: number | undefined;
}

/** Why installing `incoming` over what is installed for `id` is a downgrade, or undefined. */
export function downgradeProblem(id: string, installed: InstalledRelease, incoming: SignedFields): string | undefined {
  const was = `${id} has ${installed.tag ?? '(untagged)'}`;
  if (installed.signedAt !== undefined) {
    if (incoming.signedAt < installed.signedAt) {
      return `${was} (signed ${new Date(installed.signedAt * 1000).toISOString()}); ${incoming.tag ?? '(untagged)'} was signed earlier (${new Date(incoming.signedAt * 1000).toISOString()})`;
    }
    return undefined;
  }
  const a = versionOf(installed.tag);
  const b = versionOf(incoming.tag);
  if (a && b && compareVersions(b, a) < 0) return `${was}; ${incoming.tag} is an older version`;
  return undefined;
}

/** Refuses to install `ids` from a release older than what the receipt lists for any of them. */
export function checkNoDowngrade(installed: readonly InstalledVariant[], ids: readonly string[], incoming: SignedFields, allowDowngrade: boolean): void {
  if (allowDowngrade) return;
  for (const v of installed) {
    if (!ids.includes(v.id)) continue;
    const problem = downgradeProblem(v.id, v.release, incoming);
    if (problem) throw new ReleaseError('release', `would downgrade: ${problem}`, 'pass --allow-downgrade to install it anyway');
  }
}
