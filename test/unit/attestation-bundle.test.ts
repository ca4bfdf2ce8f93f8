/**
 * The GitHub attestation published beside a release (attestation.sigstore.json), checked
 * offline against a bundle of the same shape as actions/attest-build-provenance writes
 * (test/helpers/sigstore-bundle.ts): its statement's subjects are exactly SHA256SUMS, and a
 * bundle made for another SHA256SUMS, or of another shape, is refused with one line naming why.
 * The Sigstore signature itself is `gh attestation verify`'s to check, not ours.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSums, renderSums, sha256Hex, type SumsEntry } from '../../pipeline/checksums.ts';
import { ReleaseError } from '../../pipeline/errors.ts';
import { ATTESTATION_BUNDLE_FILE, checkAttestationCoversSums, readAttestationBundle } from '../../pipeline/release/attestation-bundle.ts';
import { REPO } from '../helpers/config.ts';
import { sigstoreBundle } from '../helpers/sigstore-bundle.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const sums: SumsEntry[] = ['index.json', 'provenance.intoto.jsonl', 'x64-debug.cdx.json', 'x64-debug.tar.xz']
  .map((path) => ({ path, sha256: sha256Hex(path) }));

function refusal(bundle: string, against: readonly SumsEntry[] = sums): string {
  try {
    checkAttestationCoversSums(readAttestationBundle(bundle), against);
  } catch (err) {
    expect(err).toBeInstanceOf(ReleaseError);
    return (err as ReleaseError).message;
  }
  throw new Error('the bundle was accepted');
}

const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

describe('the GitHub attestation bundle of a release', () => {
  it('reads the in-toto statement of a bundle of the shape the attest action writes, one subject per SHA256SUMS entry', () => {
    const statement = readAttestationBundle(sigstoreBundle(sums));
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.subjects).toEqual(sums.map((e) => ({ name: e.path, sha256: e.sha256 })));
    expect(() => checkAttestationCoversSums(statement, sums)).not.toThrow();
  });

  it('refuses a bundle made for another SHA256SUMS: a digest differs', () => {
    const other = sums.map((e) => (e.path === 'x64-debug.tar.xz' ? { ...e, sha256: sha256Hex('rebuilt') } : e));
    expect(refusal(sigstoreBundle(other))).toBe(`attestation ${ATTESTATION_BUNDLE_FILE}: subject x64-debug.tar.xz has sha256 ${sha256Hex('rebuilt')}, SHA256SUMS says ${sha256Hex('x64-debug.tar.xz')}`);
  });

  it('refuses a bundle that leaves an asset of SHA256SUMS out', () => {
    expect(refusal(sigstoreBundle(sums.filter((e) => e.path !== 'index.json')))).toMatch(/: asset index\.json is in SHA256SUMS but not a subject of the attestation$/);
  });

  it('refuses a bundle that attests an asset SHA256SUMS does not list', () => {
    const more = [...sums, { path: 'bonus.tar.xz', sha256: sha256Hex('bonus') }];
    expect(refusal(sigstoreBundle(more))).toMatch(/: subject bonus\.tar\.xz is not in SHA256SUMS$/);
  });

  it('refuses a subject listed twice', () => {
    expect(refusal(sigstoreBundle([...sums, sums[0]!]))).toMatch(/: subject index\.json is listed twice$/);
  });

  it('refuses a statement whose predicate is not SLSA provenance', () => {
    expect(refusal(sigstoreBundle(sums, { edit: (s) => { s.predicateType = 'https://spdx.dev/Document/v2.3'; } }))).toMatch(/predicateType https:\/\/spdx\.dev\/Document\/v2\.3 is not SLSA provenance/);
  });

  it.each([
    ['not JSON', () => 'not json', /is not one JSON document/],
    ['JSON lines of two bundles', () => sigstoreBundle(sums) + sigstoreBundle(sums), /is not one JSON document/],
    ['another media type', () => JSON.stringify({ ...JSON.parse(sigstoreBundle(sums)), mediaType: 'application/json' }), /mediaType "application\/json" is not a Sigstore bundle's/],
    ['a message signature in place of a DSSE envelope', () => {
      const { dsseEnvelope: _, ...rest } = JSON.parse(sigstoreBundle(sums)) as Record<string, unknown>;
      return JSON.stringify({ ...rest, messageSignature: { messageDigest: {}, signature: 'AA==' } });
    }, /holds no DSSE envelope/],
    ['an envelope without signatures', () => {
      const b = JSON.parse(sigstoreBundle(sums)) as { dsseEnvelope: { signatures: unknown[] } };
      b.dsseEnvelope.signatures = [];
      return JSON.stringify(b);
    }, /carries no signature/],
    ['a payload that is not an in-toto statement', () => {
      const b = JSON.parse(sigstoreBundle(sums)) as { dsseEnvelope: { payload: string } };
      b.dsseEnvelope.payload = b64json({ _type: 'https://in-toto.io/Statement/v0.1', subject: [] });
      return JSON.stringify(b);
    }, /the payload is not an in-toto statement/],
    ['a subject with a sha512 digest only', () => {
      const b = JSON.parse(sigstoreBundle(sums)) as { dsseEnvelope: { payload: string } };
      const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString()) as { subject: { digest: Record<string, string> }[] };
      st.subject[0]!.digest = { sha512: 'ab'.repeat(64) };
      b.dsseEnvelope.payload = b64json(st);
      return JSON.stringify(b);
    }, /subject index\.json has no sha256 digest/],
  ])('refuses %s, naming what is wrong', (_what, make, message) => {
    expect(refusal(make())).toMatch(message);
  });

  it('scripts/ci/check-attestation.ts passes a release whose bundle matches and refuses one whose bundle does not', () => {
    const dir = tempDir('attestation-');
    writeFileSync(join(dir, 'SHA256SUMS'), renderSums(sums));
    writeFileSync(join(dir, ATTESTATION_BUNDLE_FILE), sigstoreBundle(parseSums(renderSums(sums))));
    const run = () => spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/ci/check-attestation.ts'), dir], { cwd: REPO, encoding: 'utf8' });
    const ok = run();
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe(`attestation: ${ATTESTATION_BUNDLE_FILE} attests exactly the ${sums.length} assets of SHA256SUMS\n`);
    expect(ok.status).toBe(0);
    writeFileSync(join(dir, 'SHA256SUMS'), renderSums([...sums, { path: 'aarch64-debug.tar.xz', sha256: sha256Hex('a') }]));
    const bad = run();
    expect(bad.stderr).toMatch(/^edk2-matrix: attestation attestation\.sigstore\.json: asset aarch64-debug\.tar\.xz is in SHA256SUMS but not a subject of the attestation \(/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.status).toBe(1);
  });
});
