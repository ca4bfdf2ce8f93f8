/**
 * The keys a verifier trusts, with a life cycle (docs/releases.md, "Keys"). A trust source is a minisign
 * public key file, or a directory (the repository's is keys/trust) holding:
 *   <name>.pub                           a minisign public key
 *   trust.json                           optional: {"keys": {"<name>": {"notBefore", "notAfter",
 *                                        "revoked"}}} (ISO dates; revoked: the reason)
 *   <new>.introduced-by-<old>.minisig    <old>'s minisign signature of <new>.pub, trusted
 *                                        comment `statement:introduce key:<id of new> …`
 *   <name>.revoked-by-<other>.minisig    <other>'s signature of <name>.pub, `statement:revoke …`
 * A key given as a file, or a directory's key with no introduction, is a root; an introduced
 * key is trusted only when its introducer is (transitively), not revoked and its statement
 * verifies. A revocation statement must verify with a trusted key. Evaluation is pure.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ReleaseError } from '../errors.ts';
import { keyIdHex, MinisignFormatError, parsePublicKey, parseSignature, signatureProblem, signMessage, type PublicKey, type SecretKey, type Signature } from './minisign.ts';

export const TRUST_META_FILE = 'trust.json';
export const KEY_NAME = /^[A-Za-z0-9_-]+$/;
const STATEMENT_FILE = /^([A-Za-z0-9_-]+)\.(introduced|revoked)-by-([A-Za-z0-9_-]+)\.minisig$/;

export type StatementKind = 'introduce' | 'revoke';

export interface KeyRecord {
  readonly name: string;
  readonly key: PublicKey;
  /** The .pub file's bytes: what statements about this key sign. */
  readonly text: string;
  /** Where it was read, for messages. */
  readonly source: string;
  /** Given as a file: a root whatever statements say. */
  readonly root: boolean;
  readonly notBefore?: number | undefined;
  readonly notAfter?: number | undefined;
  readonly revoked?: string | undefined;
}

export interface Statement {
  readonly kind: StatementKind;
  readonly subject: string;
  readonly signer: string;
  readonly file: string;
  readonly signature: Signature;
}

export interface TrustedKey extends PublicKey {
  readonly name: string;
  readonly source: string;
  readonly notBefore?: number | undefined;
  readonly notAfter?: number | undefined;
  /** Why it is revoked (trust.json's reason, or the statement that revoked it). */
  readonly revoked?: string | undefined;
  /** Why it is not trusted at all (its introduction does not hold). */
  readonly untrusted?: string | undefined;
  readonly introducedBy?: string | undefined;
}

export interface TrustStore {
  /** What was given (`--trust` values, or the default), for messages. */
  readonly sources: readonly string[];
  readonly keys: readonly TrustedKey[];
}

export const describeKey = (k: { name: string; keyId: Buffer }) => `${k.name} (${keyIdHex(k.keyId)})`;

function statementComment(kind: StatementKind, subject: PublicKey, at: number, reason?: string): string {
  return [`statement:${kind}`, `key:${keyIdHex(subject.keyId)}`, `timestamp:${at}`, ...(reason ? [`reason:${reason.replace(/[\t\r\n]+/g, ' ')}`] : [])].join('\t');
}

/** The file name and text of a statement by `signer` about the key in `subjectText`. */
export function makeStatement(kind: StatementKind, signer: { name: string; key: SecretKey }, subject: { name: string; text: string },
  at: number, reason?: string): { file: string; text: string } {
  const key = parsePublicKey(subject.text);
  const text = signMessage(signer.key, Buffer.from(subject.text, 'utf8'), statementComment(kind, key, at, reason),
    `${kind === 'introduce' ? 'introduction' : 'revocation'} of key ${describeKey({ name: subject.name, keyId: key.keyId })} by ${signer.name}`);
  return { file: `${subject.name}.${kind === 'introduce' ? 'introduced' : 'revoked'}-by-${signer.name}.minisig`, text };
}

/** Why `st` does not state what its file name says about `subject` with `signer`'s key, or undefined. */
export function statementProblem(st: Statement, subject: KeyRecord, signer: PublicKey): string | undefined {
  const problem = signatureProblem(signer, st.signature, Buffer.from(subject.text, 'utf8'));
  if (problem) return problem;
  const fields = st.signature.trustedComment.split('\t');
  if (!fields.includes(`statement:${st.kind}`)) return `its signed comment does not say statement:${st.kind}`;
  if (!fields.includes(`key:${keyIdHex(subject.key.keyId)}`)) return `its signed comment names another key than ${keyIdHex(subject.key.keyId)}`;
  return undefined;
}

/** Which keys are trusted, given every key and statement read from the sources. */
export function evaluateTrust(sources: readonly string[], records: readonly KeyRecord[], statements: readonly Statement[]): TrustStore {
  const byName = new Map<string, KeyRecord>();
  for (const r of records) {
    const other = byName.get(r.name);
    if (other && !other.key.key.equals(r.key.key)) throw new ReleaseError('trust', `two different keys are named ${r.name} (${other.source}, ${r.source})`, 'rename one of them');
    if (!other) byName.set(r.name, r);
  }
  for (const st of statements) {
    if (!byName.has(st.subject)) throw new ReleaseError('trust', `${st.file}: no key ${st.subject}.pub beside it`);
  }
  const introductions = statements.filter((s) => s.kind === 'introduce');
  const trusted = new Map<string, string | undefined>(); // name → introducer
  const why = new Map<string, string>();
  for (const r of byName.values()) if (r.root || !introductions.some((s) => s.subject === r.name)) trusted.set(r.name, undefined);
  for (let grew = true; grew;) {
    grew = false;
    for (const st of introductions) {
      if (trusted.has(st.subject)) continue;
      const signer = byName.get(st.signer);
      if (!signer || !trusted.has(st.signer)) {
        why.set(st.subject, `${st.file} is signed by ${st.signer}, which is not a trusted key`);
      } else if (signer.revoked) {
        why.set(st.subject, `${st.file} is signed by ${st.signer}, which is revoked`);
      } else {
        const problem = statementProblem(st, byName.get(st.subject)!, signer.key);
        if (problem) why.set(st.subject, `${st.file} does not verify with ${describeKey({ name: signer.name, keyId: signer.key.keyId })}: ${problem}`);
        else {
          trusted.set(st.subject, st.signer);
          why.delete(st.subject);
          grew = true;
        }
      }
    }
  }
  const revokedBy = new Map<string, string>();
  for (const st of statements.filter((s) => s.kind === 'revoke')) {
    const signer = byName.get(st.signer);
    if (!signer || !trusted.has(st.signer)) throw new ReleaseError('trust', `${st.file}: signed by ${st.signer}, which is not a trusted key`, 'a revocation must be signed by a trusted key: remove the file');
    const problem = statementProblem(st, byName.get(st.subject)!, signer.key);
    if (problem) throw new ReleaseError('trust', `${st.file}: does not verify with ${describeKey({ name: signer.name, keyId: signer.key.keyId })}: ${problem}`);
    revokedBy.set(st.subject, `by ${st.file}`);
  }
  const keys = [...byName.values()].map((r): TrustedKey => ({
    name: r.name, source: r.source, keyId: r.key.keyId, key: r.key.key, notBefore: r.notBefore, notAfter: r.notAfter,
    revoked: r.revoked ?? revokedBy.get(r.name),
    untrusted: trusted.has(r.name) ? undefined : why.get(r.name) ?? 'its introduction does not hold',
    introducedBy: trusted.get(r.name),
  }));
  return { sources, keys };
}

const day = (t: number) => new Date(t * 1000).toISOString().replace(/\.000Z$/, 'Z');

/** Why `k` may not vouch for something signed at `signedAt` (seconds), checked at `now`; undefined when it may. */
export function keyProblem(k: TrustedKey, signedAt: number, now: number): string | undefined {
  const who = `key ${describeKey(k)}`;
  if (k.untrusted) return `${who} is not trusted: ${k.untrusted}`;
  if (k.revoked) return `${who} is revoked (${k.revoked})`;
  if (k.notAfter !== undefined && now > k.notAfter) return `${who} expired on ${day(k.notAfter)}`;
  if (k.notAfter !== undefined && signedAt > k.notAfter) return `${who} had expired on ${day(k.notAfter)} when this was signed (${day(signedAt)})`;
  if (k.notBefore !== undefined && signedAt < k.notBefore) return `${who} is valid from ${day(k.notBefore)}, but this was signed on ${day(signedAt)}`;
  return undefined;
}

export function keyById(store: TrustStore, keyId: Buffer): TrustedKey | undefined {
  return store.keys.find((k) => k.keyId.equals(keyId));
}

/** A store of one root key (tests, and `--trust FILE`'s simplest case). */
export function singleKeyStore(name: string, key: PublicKey): TrustStore {
  return { sources: [name], keys: [{ name, source: name, keyId: key.keyId, key: key.key }] };
}

// ─── reading sources ──────────────────────────────────────────────────────────────────────

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO date').transform((s) => Math.floor(Date.parse(s) / 1000));
const metaSchema = z.object({
  keys: z.record(z.string(), z.object({ notBefore: isoDate.optional(), notAfter: isoDate.optional(), revoked: z.string().min(1).optional() }).strict()),
}).strict();

function parsed<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof MinisignFormatError) throw new ReleaseError('trust', `${what}: ${err.message}`);
    throw err;
  }
}

async function readKey(path: string, shown: string, root: boolean, meta: z.infer<typeof metaSchema>['keys'][string] = {}): Promise<KeyRecord> {
  const name = basename(path).replace(/\.pub$/, '');
  const text = await readFile(path, 'utf8');
  return { name, key: parsed(shown, () => parsePublicKey(text)), text, source: shown, root, ...meta };
}

async function readDirectory(dir: string, shown: string): Promise<{ records: KeyRecord[]; statements: Statement[] }> {
  const names = (await readdir(dir)).sort();
  let meta: z.infer<typeof metaSchema> = { keys: {} };
  if (names.includes(TRUST_META_FILE)) {
    const where = join(shown, TRUST_META_FILE);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(join(dir, TRUST_META_FILE), 'utf8'));
    } catch (err) {
      throw new ReleaseError('trust', `${where}: is not valid JSON (${(err as Error).message})`);
    }
    const r = metaSchema.safeParse(json);
    if (!r.success) throw new ReleaseError('trust', `${where}: ${r.error.issues[0]?.path.join('.')} ${r.error.issues[0]?.message}`);
    meta = r.data;
    const unknown = Object.keys(meta.keys).find((n) => !names.includes(`${n}.pub`));
    if (unknown) throw new ReleaseError('trust', `${where}: names ${unknown}, which has no ${unknown}.pub`);
  }
  const records: KeyRecord[] = [];
  const statements: Statement[] = [];
  for (const n of names) {
    const m = STATEMENT_FILE.exec(n);
    if (n.endsWith('.pub')) {
      if (!KEY_NAME.test(n.slice(0, -4))) throw new ReleaseError('trust', `${join(shown, n)}: a key name is letters, digits, - and _`);
      records.push(await readKey(join(dir, n), join(shown, n), false, meta.keys[n.slice(0, -4)]));
    } else if (m) {
      const text = await readFile(join(dir, n), 'utf8');
      statements.push({ subject: m[1]!, kind: m[2] === 'introduced' ? 'introduce' : 'revoke', signer: m[3]!, file: join(shown, n), signature: parsed(join(shown, n), () => parseSignature(text)) });
    }
  }
  return { records, statements };
}

/** Reads every `--trust` source (file or directory); `shown` is how each is named in messages. */
export async function loadTrust(sources: readonly { path: string; shown: string }[]): Promise<TrustStore> {
  const records: KeyRecord[] = [];
  const statements: Statement[] = [];
  for (const s of sources) {
    const st = await stat(s.path).catch(() => undefined);
    if (!st) throw new ReleaseError('trust', `cannot read ${s.shown}`, 'pass the publisher\'s public key file or trust directory with --trust');
    if (st.isDirectory()) {
      const d = await readDirectory(s.path, s.shown);
      records.push(...d.records);
      statements.push(...d.statements);
    } else {
      records.push(await readKey(s.path, s.shown, true));
    }
  }
  return evaluateTrust(sources.map((s) => s.shown), records, statements);
}
