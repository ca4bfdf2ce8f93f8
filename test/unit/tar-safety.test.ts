import { describe, expect, it } from 'vitest';
import { checkEntry, UnsafeEntryError } from '../../pipeline/source/tar-safety.ts';

describe('archive entry checks', () => {
  it('strips leading components as tar --strip-components does', () => {
    expect(checkEntry({ name: 'edk2-2025.02/OvmfPkg/OvmfPkgX64.dsc', type: 'file' }, 1)).toEqual({ action: 'write', name: 'OvmfPkg/OvmfPkgX64.dsc' });
    expect(checkEntry({ name: './debian/changelog', type: 'file' }, 0)).toEqual({ action: 'write', name: 'debian/changelog' });
  });

  it('skips the top directory itself', () => {
    expect(checkEntry({ name: 'edk2-2025.02/', type: 'directory' }, 1)).toEqual({ action: 'skip', reason: 'top directory' });
  });

  it('refuses an absolute entry name', () => {
    expect(() => checkEntry({ name: '/etc/passwd', type: 'file' }, 0)).toThrow(UnsafeEntryError);
  });

  it('refuses an entry name containing ..', () => {
    expect(() => checkEntry({ name: 'edk2/../../etc/cron.d/x', type: 'file' }, 1)).toThrow(/contains \.\./);
  });

  it('leaves out a symbolic link to an absolute path', () => {
    const d = checkEntry({ name: 'edk2/EmulatorPkg/Unix/Host/X11IncludeHack', type: 'symlink', linkname: '/opt/X11/include' }, 1);
    expect(d).toEqual({ action: 'skip', reason: 'symbolic link to absolute path /opt/X11/include' });
  });

  it('leaves out a symbolic link that climbs out of the tree', () => {
    const d = checkEntry({ name: 'edk2/a/link', type: 'symlink', linkname: '../../../outside' }, 1);
    expect(d.action).toBe('skip');
  });

  it('keeps a symbolic link that stays inside the tree', () => {
    expect(checkEntry({ name: 'edk2/a/b/link', type: 'symlink', linkname: '../c/file' }, 1)).toEqual({ action: 'write', name: 'a/b/link', linkname: '../c/file' });
  });

  it('strips hard link targets too and refuses ones outside the tree', () => {
    expect(checkEntry({ name: 'edk2/a/hard', type: 'link', linkname: 'edk2/a/file' }, 1)).toEqual({ action: 'write', name: 'a/hard', linkname: 'a/file' });
    expect(() => checkEntry({ name: 'edk2/a/hard', type: 'link', linkname: '/etc/shadow' }, 1)).toThrow(UnsafeEntryError);
  });

  it('does not unpack device files', () => {
    expect(checkEntry({ name: 'edk2/dev/sda', type: 'block-device' }, 1).action).toBe('skip');
  });
});
