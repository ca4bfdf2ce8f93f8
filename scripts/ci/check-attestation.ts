/**
 * `node --import tsx scripts/ci/check-attestation.ts DIR`: the release workflow's check, before
 * publishing, that DIR/attestation.sigstore.json (the bundle actions/attest-build-provenance
 * wrote) attests exactly the assets of DIR/SHA256SUMS. Shape and subjects only: the signature
 * is Sigstore's, checked by `gh attestation verify` (see pipeline/release/attestation-bundle.ts).
 * Exit status: 0 it does, 1 it does not (one line naming the first difference), 2 bad usage.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSums } from '../../pipeline/checksums.ts';
import { ReleaseError, UsageError } from '../../pipeline/errors.ts';
import { SUMS_FILE } from '../../pipeline/layout.ts';
import { runCommand } from '../../pipeline/cli/main.ts';
import { ATTESTATION_BUNDLE_FILE, checkAttestationCoversSums, readAttestationBundle } from '../../pipeline/release/attestation-bundle.ts';

async function readAsset(dir: string, name: string): Promise<string> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new ReleaseError(`asset ${name}`, `is missing from ${dir}`, 'download every artifact of the release into one directory first', { cause: err });
  }
}

runCommand(async (argv) => {
  if (argv.length !== 1) throw new UsageError(`expected one release directory, got ${argv.length} arguments`, 'usage: scripts/ci/check-attestation.ts DIR');
  const dir = argv[0]!;
  const statement = readAttestationBundle(await readAsset(dir, ATTESTATION_BUNDLE_FILE));
  checkAttestationCoversSums(statement, parseSums(await readAsset(dir, SUMS_FILE)));
  process.stdout.write(`attestation: ${ATTESTATION_BUNDLE_FILE} attests exactly the ${statement.subjects.length} assets of ${SUMS_FILE}\n`);
  return 0;
});
