/**
 * The rebuild attestation: what a rebuilder signs after `npm run rebuild` rebuilt a release's
 * variants from its recorded inputs and compared every file. An in-toto Statement v1 whose
 * subjects are the release assets checked (each rebuilt variant's archive and SBOM) and whose
 * predicate is an SLSA Verification Summary v1 (https://slsa.dev/spec/v1.0/verification_summary):
 * the policy is "every published file rebuilt bit for bit", `inputAttestations` names the
 * release's SHA256SUMS by digest (binding the attestation to exactly one release), and the
 * differences found travel in an extension field named by a URI, as the spec asks. Wrapped in
 * a DSSE envelope signed with the rebuilder's minisign key (dsse.ts). Pure.
 */
import { SUMS_FILE } from '../layout.ts';
import { GENERATOR_VERSION } from '../version.ts';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope, type Envelope } from './dsse.ts';
import { keyIdHex, type SecretKey } from './minisign.ts';
import { STATEMENT_TYPE } from './provenance.ts';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
/** What was checked: every published file of the rebuilt variants, rebuilt from the release's recorded inputs, bit for bit. */
export const REBUILD_POLICY_URI = 'urn:edk2-matrix:policy:rebuild-bit-identical:v1';
/**
 * The level a PASSED rebuild attests. VSA v1 allows custom values, none starting with `SLSA_`:
 * this is not a SLSA track level, it says the assets were reproduced identically.
 */
export const REBUILD_LEVEL = 'EDK2_MATRIX_REBUILD_IDENTICAL';
/** VSA v1's verifiedLevels value when the policy failed. */
export const FAILED_LEVEL = 'FAILED';
export const SLSA_VERSION = '1.0';
/** Extension field of the predicate (VSA v1: extension fields are named by URIs): the files that differ. */
export const DIFFERENCES_FIELD = 'urn:edk2-matrix:rebuild:differences';
/** The name a rebuild attestation is published under, beside a release or in a directory of them. */
export const REBUILD_ATTESTATION_FILE = /^rebuild-[A-Za-z0-9_-]+\.intoto\.json$/;

export type RebuildResult = 'PASSED' | 'FAILED';

/** One published file the rebuild did not reproduce. */
export interface RebuildDifference {
  readonly variant: string;
  /** The file, as the variant's directory names it (e.g. OVMF_CODE.fd). */
  readonly file: string;
  /** The EDK2 modules whose output differs, when the rebuild could tell. */
  readonly modules?: readonly string[] | undefined;
  readonly reason: string;
}

export interface RebuildInput {
  /** The release given to rebuild: its URL or directory. */
  readonly location: string;
  /** sha256 of the release's SHA256SUMS file. */
  readonly sumsSha256: string;
  /** The assets checked: archives and SBOMs of the rebuilt variants. */
  readonly subjects: readonly { readonly name: string; readonly sha256: string }[];
  readonly passed: boolean;
  readonly differences: readonly RebuildDifference[];
  readonly verifierId: string;
  readonly time: Date;
}

/** The verifier id a rebuilder gets unless it names itself. */
export function defaultVerifierId(keyId: Buffer): string {
  return `urn:edk2-matrix:rebuilder:${keyIdHex(keyId)}`;
}

/** `rebuild-<key id>.intoto.json`: one file per rebuilder, so that several sit beside one release. */
export function rebuildAttestationName(keyId: Buffer): string {
  return `rebuild-${keyIdHex(keyId)}.intoto.json`;
}

export function rebuildStatement(input: RebuildInput): Record<string, unknown> {
  return {
    _type: STATEMENT_TYPE,
    subject: [...input.subjects].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: input.verifierId, version: { 'edk2-matrix': GENERATOR_VERSION } },
      timeVerified: input.time.toISOString(),
      resourceUri: input.location,
      policy: { uri: REBUILD_POLICY_URI },
      inputAttestations: [{ uri: SUMS_FILE, digest: { sha256: input.sumsSha256 } }],
      verificationResult: input.passed ? 'PASSED' : 'FAILED',
      verifiedLevels: [input.passed ? REBUILD_LEVEL : FAILED_LEVEL],
      slsaVersion: SLSA_VERSION,
      [DIFFERENCES_FIELD]: input.differences.map((d) => ({ variant: d.variant, file: d.file, ...(d.modules?.length ? { modules: [...d.modules] } : {}), reason: d.reason })),
    },
  };
}

/** The statement in a DSSE envelope signed with the rebuilder's key; the file's text is `JSON.stringify(envelope)`. */
export function signRebuildAttestation(key: SecretKey, statement: object): Envelope {
  return signEnvelope(key, IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement), 'utf8'));
}
