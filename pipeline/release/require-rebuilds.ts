/**
 * `--rebuilt-by`, `--require-rebuilds`: a consumer's demand that independent rebuilders
 * reproduced a release bit for bit before it is used. Each attestation (rebuild-attestation.ts)
 * counts only when it is a well-formed DSSE envelope, signed by a `--rebuilt-by` key, bound to
 * this release (the digest of its SHA256SUMS) and names every required asset with the digest the
 * release has. A trusted rebuilder's FAILED refuses the release (unless allowed); otherwise at
 * least `require` distinct rebuilders must have said PASSED for every asset. A refusal is one
 * line saying which attestation did not count and why.
 */
import { z } from 'zod';
import { ReleaseError } from '../errors.ts';
import { SUMS_FILE } from '../layout.ts';
import { asEnvelope, envelopePayload, envelopeSigner, IN_TOTO_PAYLOAD_TYPE } from './dsse.ts';
import { keyIdHex, type PublicKey } from './minisign.ts';
import { STATEMENT_TYPE } from './provenance.ts';
import { DIFFERENCES_FIELD, REBUILD_POLICY_URI, rebuildAttestationName, VSA_PREDICATE_TYPE, type RebuildDifference } from './rebuild-attestation.ts';
import { readAttestations, type ReadAttestation } from './rebuild-sources.ts';
import type { HttpOptions, ReleaseReader } from './release-reader.ts';
import { describeKey } from './trust.ts';

export interface Rebuilder {
  readonly name: string;
  readonly key: PublicKey;
}

export interface RebuildPolicy {
  readonly rebuilders: readonly Rebuilder[];
  /** Files, directories and URLs of attestations; empty: the release's own `rebuild-<key id>.intoto.json`. */
  readonly sources: readonly string[];
  /** How many distinct rebuilders must have said PASSED for every asset. */
  readonly require: number;
  /** A trusted rebuilder's FAILED is a warning rather than a refusal. */
  readonly allowFailed: boolean;
  /** For URL sources: the release reader's idle timeout. */
  readonly http?: HttpOptions | undefined;
}

export interface RebuildRelease {
  readonly reader: ReleaseReader;
  readonly sumsSha256: string;
  /** The release's URL or directory, for messages. */
  readonly location: string;
}

export interface RebuildCheck {
  /** One line per rebuilder that attested this release. */
  readonly lines: readonly string[];
  /** FAILED attestations let through by allowFailed. */
  readonly warnings: readonly string[];
  /** Distinct rebuilders that said PASSED for every asset. */
  readonly passed: number;
}

const digest = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).passthrough();
const vsaSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(z.object({ name: z.string(), digest })),
  predicateType: z.literal(VSA_PREDICATE_TYPE),
  predicate: z.object({
    verifier: z.object({ id: z.string() }).passthrough(),
    timeVerified: z.string(),
    policy: z.object({ uri: z.literal(REBUILD_POLICY_URI) }).passthrough(),
    inputAttestations: z.array(z.object({ uri: z.string(), digest })),
    verificationResult: z.enum(['PASSED', 'FAILED']),
    [DIFFERENCES_FIELD]: z.array(z.object({ variant: z.string(), file: z.string(), modules: z.array(z.string()).optional(), reason: z.string() })).default([]),
  }).passthrough(),
}).passthrough();

type Verdict =
  | { readonly kind: 'ignored'; readonly source: string; readonly reason: string; readonly rebuilder?: Rebuilder | undefined }
  | { readonly kind: 'passed' | 'failed'; readonly source: string; readonly rebuilder: Rebuilder; readonly covers: ReadonlySet<string>;
    readonly time: string; readonly differences: readonly RebuildDifference[] };

const short = (hex: string) => `${hex.slice(0, 16)}…`;
const who = (r: Rebuilder) => describeKey({ name: r.name, keyId: r.key.keyId });

function parseJson(data: Buffer): unknown {
  return JSON.parse(data.toString('utf8'));
}

/** What one attestation says about this release, or why it says nothing. */
function judge(read: ReadAttestation, policy: RebuildPolicy, release: RebuildRelease, assets: readonly { name: string; sha256: string }[]): Verdict {
  const ignored = (reason: string, by?: Rebuilder): Verdict => ({ kind: 'ignored', source: read.source, reason, rebuilder: by });
  if (!read.data) return ignored(read.problem ?? 'cannot be read');
  let value: unknown;
  try {
    value = parseJson(read.data);
  } catch (err) {
    return ignored(`is malformed: not JSON (${(err as Error).message})`);
  }
  const envelope = asEnvelope(value);
  if (typeof envelope === 'string') return ignored(`is malformed: ${envelope}`);
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return ignored(`is malformed: payloadType ${envelope.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`);
  const rebuilder = envelopeSigner(envelope, policy.rebuilders.map((r) => ({ ...r.key, rebuilder: r })))?.rebuilder;
  if (!rebuilder) {
    return ignored(`is signed by ${envelope.signatures.map((s) => s.keyid).join(', ') || 'nobody'}, not by a --rebuilt-by key (${policy.rebuilders.map(who).join(', ')}): an untrusted rebuilder`);
  }
  let statement;
  try {
    const parsed = vsaSchema.safeParse(parseJson(envelopePayload(envelope)));
    if (!parsed.success) return ignored(`is malformed: its payload is not a rebuild verification summary (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`, rebuilder);
    statement = parsed.data;
  } catch (err) {
    return ignored(`is malformed: its payload is not JSON (${(err as Error).message})`, rebuilder);
  }
  const p = statement.predicate;
  const sums = p.inputAttestations.find((a) => a.uri === SUMS_FILE);
  if (!sums) return ignored(`is malformed: names no ${SUMS_FILE} among its inputAttestations`, rebuilder);
  if (sums.digest.sha256 !== release.sumsSha256) {
    return ignored(`by ${who(rebuilder)} is for another release: its ${SUMS_FILE} has sha256 ${short(sums.digest.sha256)}, this release's ${short(release.sumsSha256)}`, rebuilder);
  }
  const subjects = new Map(statement.subject.map((s) => [s.name, s.digest.sha256]));
  const wrong = assets.find((a) => subjects.has(a.name) && subjects.get(a.name) !== a.sha256);
  if (wrong) return ignored(`by ${who(rebuilder)} names ${wrong.name} with sha256 ${short(subjects.get(wrong.name)!)}, the release has ${short(wrong.sha256)}: wrong subject digest`, rebuilder);
  const differences = p[DIFFERENCES_FIELD];
  if (p.verificationResult === 'PASSED' && differences.length) return ignored(`is malformed: PASSED with ${differences.length} difference(s)`, rebuilder);
  const covers = new Set(assets.filter((a) => subjects.has(a.name)).map((a) => a.name));
  if (!covers.size) return ignored(`by ${who(rebuilder)} names none of the assets required (${assets.map((a) => a.name).join(', ')})`, rebuilder);
  return { kind: p.verificationResult === 'PASSED' ? 'passed' : 'failed', source: read.source, rebuilder, covers, time: p.timeVerified, differences };
}

function firstDifference(differences: readonly RebuildDifference[]): string {
  const d = differences[0];
  if (!d) return 'no difference named';
  const modules = d.modules?.length ? ` (modules ${d.modules.join(', ')})` : '';
  return `${d.variant}/${d.file} differs${modules}: ${d.reason}${differences.length > 1 ? `; ${differences.length} differences in all` : ''}`;
}

/** The attestations' verdict on `assets` of the release, or a ReleaseError naming why it is refused. */
export function judgeRebuilds(read: readonly ReadAttestation[], policy: RebuildPolicy, release: RebuildRelease,
  assets: readonly { name: string; sha256: string }[]): RebuildCheck {
  const verdicts = read.map((r) => judge(r, policy, release, assets));
  const lines: string[] = [];
  const warnings: string[] = [];
  const failedBy = new Set<string>();
  for (const v of verdicts) {
    if (v.kind !== 'failed') continue;
    const line = `rebuild FAILED by ${who(v.rebuilder)} on ${v.time}: ${firstDifference(v.differences)}`;
    if (!policy.allowFailed) {
      throw new ReleaseError('rebuilds', `${line} (${v.source})`,
        'a trusted rebuilder got other bytes from the same inputs: do not use this release until that is explained, or pass --allow-failed-rebuilds');
    }
    failedBy.add(keyIdHex(v.rebuilder.key.keyId));
    lines.push(`${line} (${v.source})`);
    warnings.push(`${line}: accepted because of --allow-failed-rebuilds`);
  }
  const covered = new Map<string, { rebuilder: Rebuilder; covers: Set<string>; time: string; sources: string[] }>();
  for (const v of verdicts) {
    if (v.kind !== 'passed') continue;
    const id = keyIdHex(v.rebuilder.key.keyId);
    const c = covered.get(id) ?? { rebuilder: v.rebuilder, covers: new Set<string>(), time: v.time, sources: [] };
    for (const a of v.covers) c.covers.add(a);
    c.sources.push(v.source);
    covered.set(id, c);
  }
  const why: string[] = verdicts.flatMap((v) => (v.kind === 'ignored' ? [`${v.source} ${v.reason}`] : []));
  const counted: Rebuilder[] = [];
  for (const [id, c] of covered) {
    const missing = assets.filter((a) => !c.covers.has(a.name)).map((a) => a.name);
    if (failedBy.has(id)) {
      why.push(`${who(c.rebuilder)} also said FAILED`);
    } else if (missing.length) {
      why.push(`${who(c.rebuilder)} said PASSED for ${c.covers.size} of the ${assets.length} assets, not for ${missing.join(', ')}`);
    } else {
      counted.push(c.rebuilder);
      lines.push(`rebuilt bit for bit by ${who(c.rebuilder)} on ${c.time}: ${assets.length} assets (${c.sources.join(', ')})`);
      if (c.sources.length > 1) why.push(`${c.sources.slice(1).join(', ')}: ${who(c.rebuilder)} again, counted once`);
    }
  }
  const attested = new Set(verdicts.flatMap((v) => (v.rebuilder ? [keyIdHex(v.rebuilder.key.keyId)] : [])));
  for (const r of policy.rebuilders) if (!attested.has(keyIdHex(r.key.keyId))) why.push(`${who(r)}: no attestation`);
  const passed = counted.length;
  if (passed >= policy.require) return { lines, warnings, passed };
  const where = policy.sources.length ? policy.sources.join(', ') : `${release.location} (${policy.rebuilders.map((r) => rebuildAttestationName(r.key.keyId)).join(', ')})`;
  if (!read.some((r) => r.data)) {
    throw new ReleaseError('rebuilds', `no rebuild attestation found in ${where}${why.length ? `: ${why.join('; ')}` : ''}`,
      'ask the rebuilders for their attestations (npm run rebuild writes them) and pass them with --rebuilds, or publish them beside the release');
  }
  throw new ReleaseError('rebuilds', `${passed} of the ${policy.require} required rebuilders attest a bit-identical rebuild of ${assets.length} assets` +
    `${passed ? ` (${counted.map(who).join(', ')})` : ''}; not counted: ${why.join('; ')}`, 'each attestation must be signed by a --rebuilt-by key, name this release\'s SHA256SUMS and every asset\'s digest, and say PASSED');
}

/** Reads the policy's attestations and judges them (see judgeRebuilds). */
export async function checkRebuilds(policy: RebuildPolicy, release: RebuildRelease, assets: readonly { name: string; sha256: string }[],
  signal?: AbortSignal): Promise<RebuildCheck> {
  const read = await readAttestations(policy.sources, release.reader, policy.rebuilders.map((r) => r.key), policy.http, signal);
  return judgeRebuilds(read, policy, release, assets);
}
