/**
 * A read-only FAT drive (QEMU's vvfat) whose removable-media boot file is the variant's own
 * UEFI Shell: how edk2's CI reaches the Shell on releases that no longer boot it by themselves.
 */
import { access, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../domain.ts';
import { SHELL_FILE } from '../layout.ts';

export async function shellDiskArgs(m: Manifest, variantDir: string): Promise<{ args: string[]; dir: string; cleanup: () => Promise<void> } | undefined> {
  const shell = join(variantDir, SHELL_FILE);
  try {
    await access(shell);
  } catch {
    return undefined;
  }
  const root = await mkdtemp(join(tmpdir(), `edk2-matrix-shelldisk-${m.id}-`));
  try {
    await mkdir(join(root, 'EFI', 'BOOT'), { recursive: true });
    await copyFile(shell, join(root, 'EFI', 'BOOT', m.qemu.removableBootFile));
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    args: ['-drive', `if=none,id=shelldisk,format=raw,readonly=on,file=fat:${root.replaceAll(',', ',,')}`, '-device', 'virtio-blk-pci,drive=shelldisk'],
    dir: root,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
