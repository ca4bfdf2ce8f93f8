/**
 * The GitHub attestation of a release, as published beside it: the Sigstore bundle that
 * actions/attest-build-provenance writes (its `bundle-path` output), renamed
 * attestation.sigstore.json. With `subject-checksums: SHA256SUMS` it holds one DSSE envelope
 * whose payload is one in-toto Statement with a subject per line of SHA256SUMS.
 *
 * This module reads the bundle's *shape* and checks that its subjects are exactly the
 * release's SHA256SUMS (same names, same digests, nothing more, nothing less). It does not
 * check the signature, the certificate or the transparency-log entry: that needs Sigstore's
 * trusted root and is what `gh attestation verify <asset> --bundle … --repo OWNER/REPO` does.
 * What it catches is a bundle that belongs to another release, or one that would make
 * `gh attestation verify` fail for an asset that the signed SHA256SUMS lists.
 */
import type { SumsEntry } from '../checksums.ts';
import { ReleaseError } from '../errors.ts';

/** The release asset's name: `.sigstore.json` is Sigstore's suffix for one bundle. */
import { ATTESTATION_BUNDLE_FILE } from '../layout.ts';

export { ATTESTATION_BUNDLE_FILE };
export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

/** Older bundle media types that the same tools still read (v0.1, v0.2 and v0.3's long form). */
const BUNDLE_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.3\+json|\+json;version=0\.[123])$/;

export interface AttestationSubject {
  readonly name: string;
  readonly sha256: string;
}

export interface AttestationStatement {
  readonly predicateType: string;
  readonly subjects: readonly AttestationSubject[];
  /** The predicate as the statement holds it (SLSA provenance for a GitHub workflow). */
  readonly predicate: unknown;
}

const HINT = 'publish the bundle that actions/attest-build-provenance wrote for this release\'s SHA256SUMS';

function fail(detail: string, hint = HINT): never {
  throw new ReleaseError(`attestation ${ATTESTATION_BUNDLE_FILE}`, detail, hint);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeBase64(text: unknown, what: string): Buffer {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) fail(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

/** The in-toto Statement inside a bundle's DSSE envelope; refuses anything of another shape. */
export function readAttestationBundle(text: string): AttestationStatement {
  let bundle: unknown;
  try {
    bundle = JSON.parse(text);
  } catch {
    fail('is not one JSON document (a Sigstore bundle)');
  }
  if (!isObject(bundle)) fail('is not a JSON object (a Sigstore bundle)');
  if (typeof bundle.mediaType !== 'string' || !BUNDLE_MEDIA_TYPE.test(bundle.mediaType)) {
    fail(`mediaType ${JSON.stringify(bundle.mediaType)} is not a Sigstore bundle's (${SIGSTORE_BUNDLE_V03})`);
  }
  if (!isObject(bundle.verificationMaterial)) fail('has no verificationMaterial (certificate and log entries)');
  const envelope = bundle.dsseEnvelope;
  if (!isObject(envelope)) fail('holds no DSSE envelope (dsseEnvelope); a message signature cannot carry an in-toto statement');
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) fail(`the envelope's payloadType ${JSON.stringify(envelope.payloadType)} is not ${IN_TOTO_PAYLOAD_TYPE}`);
  if (!Array.isArray(envelope.signatures) || envelope.signatures.length === 0 || !envelope.signatures.every((s) => isObject(s) && decodeBase64(s.sig, 'a signature').length > 0)) {
    fail('the envelope carries no signature');
  }
  let statement: unknown;
  try {
    statement = JSON.parse(decodeBase64(envelope.payload, 'the envelope\'s payload').toString('utf8'));
  } catch (err) {
    if (err instanceof ReleaseError) throw err;
    fail('the envelope\'s payload is not a JSON in-toto statement');
  }
  if (!isObject(statement) || statement._type !== IN_TOTO_STATEMENT_V1) fail(`the payload is not an in-toto statement (${IN_TOTO_STATEMENT_V1})`);
  if (typeof statement.predicateType !== 'string') fail('the statement has no predicateType');
  if (!Array.isArray(statement.subject) || statement.subject.length === 0) fail('the statement has no subject');
  const subjects = statement.subject.map((s, i): AttestationSubject => {
    if (!isObject(s) || typeof s.name !== 'string' || s.name === '' || !isObject(s.digest)) fail(`subject ${i + 1} has no name or no digest`);
    const sha256 = s.digest.sha256;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) fail(`subject ${s.name} has no sha256 digest`);
    return { name: s.name, sha256 };
  });
  return { predicateType: statement.predicateType, subjects, predicate: statement.predicate };
}

/**
 * Confirms that the statement attests exactly the assets of SHA256SUMS: each listed asset is a
 * subject under the same name and digest, no subject is missing from it or listed twice, and
 * the predicate is SLSA provenance. Names the first difference.
 */
export function checkAttestationCoversSums(statement: AttestationStatement, sums: readonly SumsEntry[]): void {
  if (statement.predicateType !== SLSA_PROVENANCE_V1) fail(`predicateType ${statement.predicateType} is not SLSA provenance (${SLSA_PROVENANCE_V1})`);
  const subjects = new Map<string, string>();
  for (const s of statement.subjects) {
    if (subjects.has(s.name)) fail(`subject ${s.name} is listed twice`);
    subjects.set(s.name, s.sha256);
  }
  const listed = new Set(sums.map((e) => e.path));
  for (const entry of sums) {
    const digest = subjects.get(entry.path);
    if (digest === undefined) fail(`asset ${entry.path} is in SHA256SUMS but not a subject of the attestation`, 'the bundle was made for another SHA256SUMS: attest this release\'s');
    if (digest !== entry.sha256) fail(`subject ${entry.path} has sha256 ${digest}, SHA256SUMS says ${entry.sha256}`, 'the bundle was made for another build of this asset: attest this release\'s SHA256SUMS');
  }
  const extra = statement.subjects.find((s) => !listed.has(s.name));
  if (extra) fail(`subject ${extra.name} is not in SHA256SUMS`, 'the bundle was made for another SHA256SUMS: attest this release\'s');
}
