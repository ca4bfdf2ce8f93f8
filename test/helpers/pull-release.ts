/**
 * For the unit tests of `pull`: a release assembled and signed by the real code from stand-in
 * firmware (two variants, x64-debug and aarch64-debug), and a user install's paths under a
 * temporary root.
 */
import { join } from 'node:path';
import { installPaths, type InstallPaths } from '../../pipeline/pull/install-paths.ts';
import { assembleRelease } from '../../pipeline/release/assemble.ts';
import { generateKey } from '../../pipeline/release/minisign.ts';
import { DirectoryReader } from '../../pipeline/release/release-reader.ts';
import { signRelease } from '../../pipeline/release/sign-release.ts';
import { singleKeyStore } from '../../pipeline/release/trust.ts';
import { verifyRelease, type VerifiedRelease } from '../../pipeline/release/verify-release.ts';
import { FAKE_NOTICES, fakeVariants, writeFakeVariant } from './fake-artifacts.ts';

export const quietLog = { info: () => {}, warn: () => {} };
const key = generateKey();

/** Assembles, signs and verifies a release in `root`; `seed` makes its files differ from another's. */
export async function testRelease(root: string, tag = 'v1', seed = ''): Promise<VerifiedRelease> {
  const [x64, aarch64] = fakeVariants();
  const shard = join(root, `shard${seed}`);
  await writeFakeVariant(shard, x64!, { boot: {}, installPrefix: `/usr/share/edk2-matrix/{id}${seed}` });
  await writeFakeVariant(shard, aarch64!, { boot: {}, installPrefix: `/usr/share/edk2-matrix/{id}${seed}` });
  const out = join(root, `release-${tag}${seed}`);
  await assembleRelease({ from: [shard], out, config: undefined, tag, commit: undefined, sourceDateEpoch: undefined, run: { builderId: 'x', invocationId: undefined, repository: undefined }, notices: FAKE_NOTICES, log: quietLog });
  await signRelease(out, key);
  return verifyRelease(new DirectoryReader(out), singleKeyStore('test', key), {});
}

export function userPaths(root: string): InstallPaths {
  return installPaths({ user: true, destdir: undefined, prefix: undefined }, { XDG_DATA_HOME: join(root, 'data'), XDG_CONFIG_HOME: join(root, 'config') });
}
