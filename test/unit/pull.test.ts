/**
 * pull against a release assembled and signed by the real code from stand-in firmware
 * (test/helpers/fake-artifacts.ts), installed into temporary user directories: layout,
 * descriptors, receipt, --check, uninstall, --prefer, refusal to overwrite what is not ours,
 * and a failure mid-install undone. The integration test pull.test.ts does this with real
 * firmware over HTTP, with every drill, and with libvirt.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Receipt } from '../../pipeline/domain.ts';
import { CancelledError } from '../../pipeline/errors.ts';
import { firmwareDescriptorSchema } from '../../pipeline/plan/qemu-firmware-schema.ts';
import { checkInstall } from '../../pipeline/pull/check-install.ts';
import { installRelease } from '../../pipeline/pull/install.ts';
import { installPaths, type InstallPaths } from '../../pipeline/pull/install-paths.ts';
import { installedDescriptorName } from '../../pipeline/pull/installed-descriptor.ts';
import { readReceipt } from '../../pipeline/pull/receipt.ts';
import { uninstall } from '../../pipeline/pull/uninstall.ts';
import type { VerifiedRelease } from '../../pipeline/release/verify-release.ts';
import { quietLog, testRelease, userPaths } from '../helpers/pull-release.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { treeSnapshot } from '../helpers/tree-snapshot.ts';

const log = quietLog;
const release = testRelease;

const install = (paths: InstallPaths, r: VerifiedRelease, o: { prefer?: boolean; ids?: string[]; signal?: AbortSignal } = {}) =>
  installRelease({ paths, release: r, location: 'test', ids: o.ids ?? ['aarch64-debug', 'x64-debug'], prefer: o.prefer ?? false, log, signal: o.signal ?? new AbortController().signal });

describe('pull into a user install', () => {
  it('links each variant to its store directory and installs descriptors naming the installed files', async () => {
    const root = tempDir('pull-');
    const paths = userPaths(root);
    await install(paths, await release(root));
    const data = join(root, 'data', 'edk2-matrix');
    expect(readlinkSync(join(data, 'x64-debug'))).toMatch(/^\.store\/x64-debug-[0-9a-f]{16}$/);
    expect(readdirSync(join(data, 'x64-debug')).sort()).toEqual(['60-edk2-x64-debug.json', 'LICENSE-edk2.txt', 'LICENSE-openssl.txt', 'LICENSE-ovmf.txt', 'OVMF_CODE.fd', 'OVMF_VARS.fd', 'launch.sh', 'manifest.json']);
    expect(lstatSync(join(data, 'x64-debug', 'launch.sh')).mode & 0o777).toBe(0o755);
    const descriptors = readdirSync(join(root, 'config', 'qemu', 'firmware'));
    expect(descriptors.sort()).toEqual(['90-edk2-matrix-aarch64-debug.json', '90-edk2-matrix-x64-debug.json']);
    const d = firmwareDescriptorSchema.parse(JSON.parse(readFileSync(join(root, 'config', 'qemu', 'firmware', '90-edk2-matrix-aarch64-debug.json'), 'utf8')));
    expect(d.mapping).toMatchObject({
      executable: { filename: `${data}/aarch64-debug/QEMU_EFI-pflash.raw` },
      'nvram-template': { filename: `${data}/aarch64-debug/QEMU_VARS-pflash.raw` },
    });
    const receipt = await readReceipt(paths);
    expect(receipt.variants.map((v) => v.id)).toEqual(['aarch64-debug', 'x64-debug']);
    expect(receipt.variants[1]!.release).toMatchObject({ tag: 'v1', location: 'test' });
  });

  it('numbers descriptors behind the distribution\'s by default and ahead of them with --prefer', () => {
    expect(installedDescriptorName('50-edk2-x64-secureboot-debug.json', 'x64-secureboot-debug', false)).toBe('80-edk2-matrix-x64-secureboot-debug.json');
    expect(installedDescriptorName('60-edk2-x64-debug.json', 'x64-debug', false)).toBe('90-edk2-matrix-x64-debug.json');
    expect(installedDescriptorName('50-edk2-x64-secureboot-debug.json', 'x64-secureboot-debug', true)).toBe('20-edk2-matrix-x64-secureboot-debug.json');
    expect(installedDescriptorName('60-edk2-x64-debug.json', 'x64-debug', true)).toBe('30-edk2-matrix-x64-debug.json');
  });

  it('reports drift with --check: a changed file, an added file, a removed descriptor', async () => {
    const root = tempDir('pull-');
    const paths = userPaths(root);
    const receipt = await install(paths, await release(root));
    expect(await checkInstall(paths, receipt)).toEqual([]);
    const data = join(root, 'data', 'edk2-matrix');
    writeFileSync(join(data, 'x64-debug', 'OVMF_VARS.fd'), 'changed');
    writeFileSync(join(data, 'aarch64-debug', 'notes.txt'), 'mine');
    rmSync(join(root, 'config', 'qemu', 'firmware', '90-edk2-matrix-x64-debug.json'));
    const drift = await checkInstall(paths, receipt);
    expect(drift).toEqual([
      expect.stringMatching(/aarch64-debug-[0-9a-f]+\/notes.txt: not installed by pull$/),
      expect.stringMatching(/x64-debug-[0-9a-f]+\/OVMF_VARS.fd: changed/),
      expect.stringMatching(/90-edk2-matrix-x64-debug.json: missing$/),
    ]);
  });

  it('uninstalls exactly what the receipt lists, and the directories pull made', async () => {
    const root = tempDir('pull-');
    const paths = userPaths(root);
    mkdirSync(join(root, 'config', 'qemu', 'firmware'), { recursive: true });
    writeFileSync(join(root, 'config', 'qemu', 'firmware', '60-mine.json'), '{}');
    const receipt = await install(paths, await release(root));
    await uninstall(paths, receipt, ['x64-debug'], log);
    expect((await readReceipt(paths)).variants.map((v) => v.id)).toEqual(['aarch64-debug']);
    await uninstall(paths, await readReceipt(paths), ['aarch64-debug'], log);
    expect(existsSync(join(root, 'data'))).toBe(false);
    expect(readdirSync(join(root, 'config', 'qemu', 'firmware'))).toEqual(['60-mine.json']);
  });

  it('replaces an earlier install of another release, and the old store directory goes', async () => {
    const root = tempDir('pull-');
    const paths = userPaths(root);
    const first = await install(paths, await release(root, 'v1'));
    const second = await install(paths, await release(root, 'v2', '-b'), { prefer: true });
    expect(second.variants.map((v) => v.release.tag)).toEqual(['v2', 'v2']);
    expect(readdirSync(join(root, 'data', 'edk2-matrix', '.store')).sort()).toEqual(second.variants.map((v) => v.storeDir.split('/').pop()).sort());
    expect(first.variants[0]!.storeDir).not.toBe(second.variants[0]!.storeDir);
    expect(readdirSync(join(root, 'config', 'qemu', 'firmware')).sort()).toEqual(['30-edk2-matrix-aarch64-debug.json', '30-edk2-matrix-x64-debug.json']);
    expect(await checkInstall(paths, second)).toEqual([]);
  });

  it('refuses to replace a descriptor or directory that pull did not install, changing nothing', async () => {
    const root = tempDir('pull-');
    const paths = userPaths(root);
    mkdirSync(join(root, 'config', 'qemu', 'firmware'), { recursive: true });
    writeFileSync(join(root, 'config', 'qemu', 'firmware', '90-edk2-matrix-x64-debug.json'), '{"mine":1}');
    const r = await release(join(root, 'r'));
    const beforeInstall = treeSnapshot(join(root, 'config'), join(root, 'data'));
    await expect(install(paths, r)).rejects.toThrow(/90-edk2-matrix-x64-debug.json: exists and was not installed by pull/);
    expect(treeSnapshot(join(root, 'config'), join(root, 'data'))).toEqual(beforeInstall);
  });

  it('undoes everything when interrupted, leaving the earlier install exactly as it was', async () => {
    const root = tempDir('pull-');
    const paths = userPaths(root);
    await install(paths, await release(root, 'v1'), { ids: ['x64-debug'] });
    const before = treeSnapshot(join(root, 'data'), join(root, 'config'));
    const controller = new AbortController();
    // Abort once the new x64 store directory exists: staging is done, the commit has not begun.
    const watcher = setInterval(() => {
      const store = join(root, 'data', 'edk2-matrix', '.store');
      if (readdirSync(store).length > 1) controller.abort();
    }, 1);
    const v2 = await release(root, 'v2', '-b');
    await expect(install(paths, v2, { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    clearInterval(watcher);
    expect(treeSnapshot(join(root, 'data'), join(root, 'config'))).toEqual(before);
    const receipt: Receipt = await readReceipt(paths);
    expect(receipt.variants[0]!.release.tag).toBe('v1');
  });

  it('installs a package build under DESTDIR with plain directories and paths recorded without it', async () => {
    const root = tempDir('pull-');
    const paths = installPaths({ user: false, destdir: join(root, 'pkg'), prefix: '/usr' });
    await install(paths, await release(root));
    const dir = join(root, 'pkg', 'usr', 'share', 'edk2-matrix', 'x64-debug');
    expect(lstatSync(dir).isDirectory()).toBe(true);
    const d = JSON.parse(readFileSync(join(root, 'pkg', 'usr', 'share', 'qemu', 'firmware', '90-edk2-matrix-x64-debug.json'), 'utf8')) as { mapping: { executable: { filename: string } } };
    expect(d.mapping.executable.filename).toBe('/usr/share/edk2-matrix/x64-debug/OVMF_CODE.fd');
  });
});
