/**
 * A Sigstore bundle of the shape actions/attest-build-provenance writes to its `bundle-path`
 * (bundle v0.3 JSON: verification material, and a DSSE envelope whose payload is an in-toto
 * Statement v1 with SLSA v1 provenance for a GitHub workflow), one subject per entry of a
 * SHA256SUMS. The envelope is really signed (ECDSA P-256 over DSSE's PAE, as Fulcio keys are),
 * but by a throwaway key with a placeholder certificate and log entry: good for every check
 * that reads the shape and the subjects, never for `gh attestation verify`.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { SumsEntry } from '../../pipeline/checksums.ts';
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1, SIGSTORE_BUNDLE_V03, SLSA_PROVENANCE_V1 } from '../../pipeline/release/attestation-bundle.ts';

export interface BundleOptions {
  readonly repository?: string;
  readonly ref?: string;
  readonly sha?: string;
  readonly workflow?: string;
  readonly event?: string;
  /** The statement as written, for a test that wants to break it. */
  readonly edit?: (statement: Record<string, unknown>) => void;
}

/** DSSE's pre-authentication encoding: what the envelope's signature covers. */
function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

export function statementFor(sums: readonly SumsEntry[], o: BundleOptions = {}): Record<string, unknown> {
  const repository = o.repository ?? 'example/edk2-matrix';
  const ref = o.ref ?? 'refs/tags/v2026.12.0';
  const sha = o.sha ?? 'a'.repeat(40);
  const workflow = o.workflow ?? '.github/workflows/release.yml';
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: sums.map((e) => ({ name: e.path, digest: { sha256: e.sha256 } })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { ref, repository: `https://github.com/${repository}`, path: workflow } },
        internalParameters: { github: { event_name: o.event ?? 'push', repository_id: '1', repository_owner_id: '1', runner_environment: 'github-hosted' } },
        resolvedDependencies: [{ uri: `git+https://github.com/${repository}@${ref}`, digest: { gitCommit: sha } }],
      },
      runDetails: {
        builder: { id: `https://github.com/${repository}/${workflow}@${ref}` },
        metadata: { invocationId: `https://github.com/${repository}/actions/runs/1/attempts/1` },
      },
    },
  };
}

/** The bundle as JSON text (one line and a newline, as the action writes it). */
export function sigstoreBundle(sums: readonly SumsEntry[], o: BundleOptions = {}): string {
  const statement = statementFor(sums, o);
  o.edit?.(statement);
  const payload = Buffer.from(JSON.stringify(statement));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = sign('sha256', pae(IN_TOTO_PAYLOAD_TYPE, payload), privateKey);
  const b64 = (b: Buffer) => b.toString('base64');
  const bundle = {
    mediaType: SIGSTORE_BUNDLE_V03,
    verificationMaterial: {
      certificate: { rawBytes: b64(randomBytes(64)) },
      tlogEntries: [{
        logIndex: '1', logId: { keyId: b64(randomBytes(32)) }, kindVersion: { kind: 'dsse', version: '0.0.1' },
        integratedTime: String(Math.floor(Date.now() / 1000)), inclusionPromise: { signedEntryTimestamp: b64(randomBytes(64)) },
        canonicalizedBody: b64(Buffer.from('{}')),
      }],
      timestampVerificationData: {},
    },
    dsseEnvelope: { payload: b64(payload), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: b64(sig), keyid: '' }] },
  };
  return `${JSON.stringify(bundle)}\n`;
}
