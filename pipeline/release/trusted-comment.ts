/**
 * The trusted comment of a release signature: one line of tab-separated `key:value` fields,
 * signed with SHA256SUMS (minisign's global signature), so `minisign -V` shows it and verifies
 * it. It starts as minisign's own default (`timestamp:… file:… hashed`) and adds what stops a
 * rollback or a swap: the tag, the kind (a tagged `release` or a `nightly`), and the digest of
 * index.json. Pure.
 */

export type ReleaseKind = 'release' | 'nightly';

export interface SignedFields {
  /** When it was signed, seconds since 1970. */
  readonly signedAt: number;
  readonly file: string;
  readonly tag: string | undefined;
  readonly kind: ReleaseKind;
  /** sha256 of index.json, hex. */
  readonly index: string;
}

/** Nightly tags are `nightly-<digest>` (release-tag.ts); an untagged release is a nightly too. */
export function releaseKind(tag: string | undefined): ReleaseKind {
  return tag === undefined || tag.startsWith('nightly-') ? 'nightly' : 'release';
}

export function formatTrustedComment(f: SignedFields): string {
  if (f.tag !== undefined && /[\t\r\n]/.test(f.tag)) throw new Error(`tag ${JSON.stringify(f.tag)} cannot go into a trusted comment`);
  return [`timestamp:${f.signedAt}`, `file:${f.file}`, 'hashed', ...(f.tag !== undefined ? [`tag:${f.tag}`] : []), `kind:${f.kind}`, `index:sha256:${f.index}`].join('\t');
}

/** The fields, or a sentence saying what is missing (a signature from before these fields, or not ours). */
export function parseTrustedComment(text: string): SignedFields | string {
  const fields = new Map<string, string>();
  for (const part of text.split('\t')) {
    const at = part.indexOf(':');
    fields.set(at < 0 ? part : part.slice(0, at), at < 0 ? '' : part.slice(at + 1));
  }
  const signedAt = fields.get('timestamp');
  const kind = fields.get('kind');
  const index = /^sha256:([0-9a-f]{64})$/.exec(fields.get('index') ?? '')?.[1];
  if (!signedAt || !/^\d+$/.test(signedAt)) return 'it has no timestamp';
  if (kind !== 'release' && kind !== 'nightly') return 'it names no kind (release or nightly)';
  if (!index) return 'it names no digest of index.json';
  return { signedAt: Number(signedAt), file: fields.get('file') ?? '', tag: fields.get('tag'), kind, index };
}

/** Why the signed fields do not describe this release's index, or undefined when they do. */
export function commentMismatch(signed: SignedFields, index: { tag: string | undefined; sha256: string }): string | undefined {
  if (signed.index !== index.sha256) return `it was signed for another index.json (sha256 ${signed.index.slice(0, 16)}…, this one is ${index.sha256.slice(0, 16)}…)`;
  if (signed.tag !== index.tag) return `it was signed for tag ${signed.tag ?? '(none)'}, index.json says ${index.tag ?? '(none)'}`;
  const kind = releaseKind(index.tag);
  if (signed.kind !== kind) return `it was signed as a ${signed.kind}, but tag ${index.tag ?? '(none)'} is a ${kind}`;
  return undefined;
}
