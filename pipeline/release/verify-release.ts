/**
 * Checks the whole chain of trust of a release, in order, and names the first broken link:
 * trust store (trust.ts) → SHA256SUMS.minisig and its trusted comment (tag, kind, index digest:
 * no rollback to another release's signature) → SHA256SUMS → each asset (index.json, archives, SBOMs,
 * provenance, DSSE envelopes signed by a trusted key) → each file inside each archive (the signed index lists every file's digest)
 * → the manifest inside, the SBOM and the provenance agreeing with the index. Nothing is
 * unpacked to disk; `pull` installs only what passed.
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseSums, sha256Hex, SumsFormatError, type SumsEntry } from '../checksums.ts';
import { RELEASE_FORMAT, type ReleaseAsset, type ReleaseIndex } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { archiveName, ATTESTATION_BUNDLE_FILE, INDEX_FILE, MANIFEST_FILE, PROVENANCE_FILE, SIGNATURE_FILE, SUMS_FILE } from '../layout.ts';
import { asEnvelope, envelopePayload, envelopeSigner, IN_TOTO_PAYLOAD_TYPE } from './dsse.ts';
import { keyIdHex, MinisignFormatError, parseSignature, signatureProblem } from './minisign.ts';
import { REBUILD_ATTESTATION_FILE } from './rebuild-attestation.ts';
import { commentMismatch, parseTrustedComment, type SignedFields } from './trusted-comment.ts';
import { describeKey, keyById, keyProblem, type TrustedKey, type TrustStore } from './trust.ts';
import { ArchiveEntryError, PLAIN_NAME, readVariantArchive } from './variant-archive.ts';
import type { ReleaseReader } from './release-reader.ts';

/** Caps for the small files, whose sizes no signed file states. */
export const SMALL_FILE_MAX = { sums: 1024 * 1024, signature: 16 * 1024, index: 16 * 1024 * 1024, provenance: 16 * 1024 * 1024 };

const fileSchema = z.object({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() });
const releaseIndexSchema = z.object({
  generator: z.literal('edk2-matrix-release'),
  formatVersion: z.literal(RELEASE_FORMAT),
  release: z.object({ sourceDateEpoch: z.number().int(), tag: z.string().optional() }).passthrough(),
  assets: z.array(z.object({
    name: z.string().regex(PLAIN_NAME), kind: z.enum(['archive', 'sbom']), variant: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative(),
  })),
  variants: z.array(z.object({ id: z.string().regex(PLAIN_NAME), files: z.array(fileSchema), manifest: z.string(), descriptor: z.string() }).passthrough()),
});

export interface VerifiedRelease {
  readonly index: ReleaseIndex;
  readonly sums: readonly SumsEntry[];
  /** sha256 of the SHA256SUMS file: what a rebuild attestation names to bind itself to this release. */
  readonly sumsSha256: string;
  /** Key id (as minisign prints it) and trusted comment of the signature. */
  readonly keyId: string;
  readonly trustedComment: string;
  /** The trusted key that signed (undefined when verified without trust, before signing). */
  readonly signer: TrustedKey | undefined;
  /** The trusted comment's fields: tag, kind, signing time, index digest. */
  readonly signed: SignedFields | undefined;
  /** Local files holding the verified archives of the checked variants, by variant id. */
  readonly archives: ReadonlyMap<string, string>;
}

export interface VerifyOptions {
  /** Only these variants' archives and SBOMs are fetched and checked (pull --only); all when undefined. */
  readonly only?: ReadonlySet<string> | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The time keys' validity is checked at, seconds since 1970 (default: now). */
  readonly now?: number | undefined;
}

function jsonOf(name: string, data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new ReleaseError(name, `is not valid JSON (${(err as Error).message})`);
  }
}

const SIGN_HINT = 'the release was signed with another key: pass its publisher\'s public key or trust directory with --trust';

async function checkSignature(reader: ReleaseReader, store: TrustStore, now: number, signal?: AbortSignal) {
  const sumsData = await reader.bytes(SUMS_FILE, { maxBytes: SMALL_FILE_MAX.sums }, signal);
  const sigData = await reader.bytes(SIGNATURE_FILE, { maxBytes: SMALL_FILE_MAX.signature }, signal).catch((err: unknown) => {
    if (err instanceof ReleaseError) throw new ReleaseError('signature', `${SIGNATURE_FILE}: ${err.detail}`, 'an unsigned release cannot be trusted: ask its publisher to sign it (npm run release -- sign)');
    throw err;
  });
  const sources = store.sources.join(', ');
  if (!store.keys.length) {
    throw new ReleaseError('signature', `no keys to verify with in ${sources}`,
      'pass the publisher\'s public key with --trust; maintainers: npm run release -- keygen, then commit release.pub as keys/trust/<name>.pub');
  }
  let sig;
  try {
    sig = parseSignature(sigData.toString('utf8'));
  } catch (err) {
    if (!(err instanceof MinisignFormatError)) throw err;
    throw new ReleaseError('signature', `${SIGNATURE_FILE} does not verify ${SUMS_FILE}: ${err.message}`, SIGN_HINT);
  }
  const key = keyById(store, sig.keyId);
  if (!key) {
    throw new ReleaseError('signature', `${SIGNATURE_FILE} was made with key ${keyIdHex(sig.keyId)}, not with the trusted keys of ${sources} (${store.keys.map(describeKey).join(', ')})`, SIGN_HINT);
  }
  const problem = signatureProblem(key, sig, sumsData);
  if (problem) {
    throw new ReleaseError('signature', `${SIGNATURE_FILE} does not verify ${SUMS_FILE} with key ${describeKey(key)} of ${key.source}: ${problem}`,
      'SHA256SUMS or its signature was altered: fetch the release again from its publisher');
  }
  const signed = parseTrustedComment(sig.trustedComment);
  if (typeof signed === 'string') {
    throw new ReleaseError('trusted comment', `${SIGNATURE_FILE}: ${signed} ("${sig.trustedComment.replaceAll('\t', ' ')}")`, 'a release is signed by npm run release -- sign, which writes them');
  }
  const refused = keyProblem(key, signed.signedAt, now);
  if (refused) throw new ReleaseError('signature', `${SIGNATURE_FILE}: ${refused}`, 'this release cannot be trusted: get one signed with a current key');
  return { sums: parseSumsChecked(sumsData), sumsSha256: sha256Hex(sumsData), keyId: keyIdHex(sig.keyId), trustedComment: sig.trustedComment, signer: key, signed };
}

async function unsignedSums(reader: ReleaseReader, signal?: AbortSignal) {
  const data = await reader.bytes(SUMS_FILE, { maxBytes: SMALL_FILE_MAX.sums }, signal);
  return { sums: parseSumsChecked(data), sumsSha256: sha256Hex(data), keyId: '', trustedComment: '', signer: undefined, signed: undefined };
}

function parseSumsChecked(data: Buffer): SumsEntry[] {
  let sums: SumsEntry[];
  try {
    sums = parseSums(data.toString('utf8'));
  } catch (err) {
    if (err instanceof SumsFormatError) throw new ReleaseError(SUMS_FILE, err.message);
    throw err;
  }
  for (const e of sums) if (!PLAIN_NAME.test(e.path)) throw new ReleaseError(SUMS_FILE, `lists "${e.path}", which is not a plain file name`);
  return sums;
}

async function checkArchive(reader: ReleaseReader, asset: ReleaseAsset, index: ReleaseIndex, signal?: AbortSignal): Promise<string> {
  const path = await reader.file(asset.name, { maxBytes: asset.size, sha256: asset.sha256 }, signal);
  const variant = index.variants.find((v) => v.id === asset.variant)!;
  const listed = new Map(variant.files.map((f) => [f.path.slice(variant.id.length + 1), f]));
  const link = (file: string) => `${asset.name}: ${file}`;
  let manifestText: Buffer | undefined;
  try {
    await readVariantArchive(createReadStream(path), variant.id, variant.files.reduce((n, f) => n + f.size, 0), async (entry) => {
      const want = listed.get(entry.name);
      if (!want) throw new ReleaseError(link(entry.name), 'is in the archive but not in the signed index (extra file)');
      const h = createHash('sha256');
      const chunks: Buffer[] = [];
      for await (const c of entry.body) {
        h.update(c as Buffer);
        if (entry.name === MANIFEST_FILE) chunks.push(c as Buffer);
      }
      if (h.digest('hex') !== want.sha256) throw new ReleaseError(link(entry.name), 'does not match its digest in the signed index');
      if (entry.name === MANIFEST_FILE) manifestText = Buffer.concat(chunks);
      listed.delete(entry.name);
    });
  } catch (err) {
    if (err instanceof ArchiveEntryError) throw new ReleaseError(link(err.entry), `unsafe archive entry: ${err.reason}`);
    if (err instanceof ReleaseError) throw err;
    throw new ReleaseError(asset.name, `cannot be unpacked: ${(err as Error).message}`);
  }
  const missing = [...listed.keys()];
  if (missing.length) throw new ReleaseError(link(missing[0]!), 'is in the signed index but not in the archive (missing file)');
  const manifest = jsonOf(link(MANIFEST_FILE), manifestText ?? Buffer.from('')) as { id?: string; files?: { path: string; sha256: string }[] };
  const inIndex = new Map(variant.files.map((f) => [f.path.slice(variant.id.length + 1), f.sha256]));
  if (manifest.id !== variant.id) throw new ReleaseError(link(MANIFEST_FILE), `describes ${manifest.id}, not ${variant.id}`);
  for (const f of manifest.files ?? []) {
    if (inIndex.get(f.path) !== f.sha256) throw new ReleaseError(link(MANIFEST_FILE), `lists ${f.path} with a digest the index does not have`);
  }
  return path;
}

async function checkSbom(reader: ReleaseReader, asset: ReleaseAsset, index: ReleaseIndex, signal?: AbortSignal): Promise<void> {
  const sbom = jsonOf(asset.name, await reader.bytes(asset.name, { maxBytes: asset.size, sha256: asset.sha256 }, signal)) as
    { components?: { type?: string; name?: string; hashes?: { content?: string }[] }[] };
  const variant = index.variants.find((v) => v.id === asset.variant)!;
  for (const f of variant.files) {
    const name = f.path.slice(variant.id.length + 1);
    const c = sbom.components?.find((x) => x.type === 'file' && x.name === name);
    if (c?.hashes?.[0]?.content !== f.sha256) throw new ReleaseError(asset.name, `does not list ${name} with the digest the index has`);
  }
}

/**
 * The provenance statements: each line a DSSE envelope. Given `signedBy` (the keys that may
 * vouch for this release), each envelope must carry a signature by one of them; without it
 * (before signing) a line may also be the bare statement `assemble` writes.
 */
export function provenanceStatements(text: string, signedBy: readonly TrustedKey[] | undefined): unknown[] {
  const out: unknown[] = [];
  text.split('\n').filter(Boolean).forEach((line, i) => {
    const where = `${PROVENANCE_FILE} line ${i + 1}`;
    const value = jsonOf(where, Buffer.from(line));
    const envelope = asEnvelope(value);
    if (typeof envelope === 'string') {
      if (signedBy || (value as { _type?: unknown })._type === undefined) throw new ReleaseError(where, envelope, 'provenance is signed by npm run release -- sign');
      out.push(value);
      return;
    }
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new ReleaseError(where, `has payloadType ${envelope.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`);
    if (signedBy && !envelopeSigner(envelope, signedBy)) {
      throw new ReleaseError(where, `no signature verifies with a trusted key (${signedBy.map(describeKey).join(', ')}); signed by ${envelope.signatures.map((s) => s.keyid).join(', ') || 'nobody'}`,
        'the provenance was altered or signed with another key');
    }
    out.push(jsonOf(where, envelopePayload(envelope)));
  });
  return out;
}

async function checkProvenance(reader: ReleaseReader, sums: readonly SumsEntry[], signedBy: readonly TrustedKey[] | undefined, signal?: AbortSignal): Promise<void> {
  // Pinned by SHA256SUMS in releases that list it; otherwise its DSSE signatures authenticate it.
  const entry = sums.find((e) => e.path === PROVENANCE_FILE);
  const text = (await reader.bytes(PROVENANCE_FILE, { maxBytes: SMALL_FILE_MAX.provenance, sha256: entry?.sha256 }, signal)).toString('utf8');
  const subjects = new Map<string, string>();
  for (const st of provenanceStatements(text, signedBy) as { subject?: { name: string; digest: { sha256: string } }[] }[]) {
    for (const s of st.subject ?? []) subjects.set(s.name, s.digest.sha256);
  }
  for (const e of sums) {
    if (e.path === PROVENANCE_FILE) continue;
    if (subjects.get(e.path) !== e.sha256) throw new ReleaseError(PROVENANCE_FILE, `has no subject ${e.path} with the digest SHA256SUMS gives`);
  }
}

/**
 * Verifies the release; `trust` undefined checks everything but the signature (what `sign`
 * does before it signs: a release is signed only when it is whole).
 */
export async function verifyRelease(reader: ReleaseReader, trust: TrustStore | undefined, opts: VerifyOptions = {}): Promise<VerifiedRelease> {
  const { signal } = opts;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const { sums, sumsSha256, keyId, trustedComment, signer, signed } = trust ? await checkSignature(reader, trust, now, signal) : await unsignedSums(reader, signal);
  const listed = new Map(sums.map((e) => [e.path, e.sha256]));
  const names = await reader.names();
  if (names) {
    // Besides what SHA256SUMS lists: the signature, and the attestations that carry their own
    // signatures and name the CI run (so that the listed assets stay the same for two builds)
    // or were made after the release (rebuilders' attestations, which name SHA256SUMS's digest).
    const beside = new Set([SUMS_FILE, SIGNATURE_FILE, PROVENANCE_FILE, ATTESTATION_BUNDLE_FILE]);
    const extra = names.find((n) => !listed.has(n) && !beside.has(n) && !REBUILD_ATTESTATION_FILE.test(n));
    if (extra) throw new ReleaseError(`asset ${extra}`, 'is not listed in SHA256SUMS (extra asset)', 'a release holds exactly what its signed SHA256SUMS lists');
    const missing = sums.find((e) => !names.includes(e.path));
    if (missing) throw new ReleaseError(`asset ${missing.path}`, `is listed in SHA256SUMS but missing from ${reader.location}`);
  }
  const indexSha = listed.get(INDEX_FILE);
  if (!indexSha) throw new ReleaseError(SUMS_FILE, `does not list ${INDEX_FILE}`);
  const parsed = releaseIndexSchema.safeParse(jsonOf(INDEX_FILE, await reader.bytes(INDEX_FILE, { maxBytes: SMALL_FILE_MAX.index, sha256: indexSha }, signal)));
  if (!parsed.success) throw new ReleaseError(INDEX_FILE, `is not a release index: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const index = parsed.data as unknown as ReleaseIndex;
  const mismatch = signed && commentMismatch(signed, { tag: index.release.tag, sha256: indexSha });
  if (mismatch) throw new ReleaseError('trusted comment', `${SIGNATURE_FILE}: ${mismatch}`, 'the signature belongs to another release: fetch this one again from its publisher');
  const expected = new Set([INDEX_FILE, PROVENANCE_FILE, ...index.assets.map((a) => a.name)]);
  for (const a of index.assets) {
    if (listed.get(a.name) !== a.sha256) throw new ReleaseError(INDEX_FILE, `lists ${a.name} with a digest SHA256SUMS does not have`);
    if (!index.variants.some((v) => v.id === a.variant)) throw new ReleaseError(INDEX_FILE, `lists ${a.name} for an unknown variant ${a.variant}`);
  }
  for (const v of index.variants) {
    if (!index.assets.some((a) => a.kind === 'archive' && a.name === archiveName(v.id))) throw new ReleaseError(INDEX_FILE, `has no archive for ${v.id}`);
  }
  const unexpected = sums.find((e) => !expected.has(e.path));
  if (unexpected) throw new ReleaseError(`asset ${unexpected.path}`, 'is listed in SHA256SUMS but not in the index (extra asset)');
  // The provenance may be signed by any key that could sign this release.
  await checkProvenance(reader, sums, trust && signed ? trust.keys.filter((k) => !keyProblem(k, signed.signedAt, now)) : undefined, signal);
  const archives = new Map<string, string>();
  for (const a of index.assets) {
    if (opts.only && !opts.only.has(a.variant)) continue;
    if (a.kind === 'archive') archives.set(a.variant, await checkArchive(reader, a, index, signal));
    else await checkSbom(reader, a, index, signal);
  }
  return { index, sums, sumsSha256, keyId, trustedComment, signer, signed, archives };
}
