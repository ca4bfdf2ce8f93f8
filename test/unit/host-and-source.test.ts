import { describe, expect, it } from 'vitest';
import { parseDeb822Sources, parseOneLineSources, pickDebianMirror } from '../../pipeline/host/debian-mirror.ts';
import { debianPoolUrl } from '../../pipeline/source/materialize.ts';
import { patchFailure, sourceKey } from '../../pipeline/source/prepare.ts';

// Host names here are placeholders of the example.org kind, never a real registry.
describe('Debian mirror from the host apt configuration', () => {
  it('reads deb822 sources and skips security and third-party repositories', () => {
    const text = [
      'Types: deb\nURIs: http://mirror.example.org/debian-security\nSuites: bookworm-security\nComponents: main\n',
      'Types: deb\n# a comment\nURIs: http://mirror.example.org/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n',
    ].join('\n');
    expect(pickDebianMirror(parseDeb822Sources(text))).toBe('http://mirror.example.org/debian');
  });

  it('ignores disabled deb822 stanzas', () => {
    const text = 'Enabled: no\nTypes: deb\nURIs: http://off.example.org/debian\nSuites: trixie\n';
    expect(pickDebianMirror(parseDeb822Sources(text))).toBeUndefined();
  });

  it('reads one-line sources with options', () => {
    const text = '# deb http://old.example.org/debian buster main\ndeb [arch=amd64 signed-by=/k.gpg] https://tools.example.org/apt cloud-sdk main\ndeb http://m.example.org/debian trixie main\n';
    expect(pickDebianMirror(parseOneLineSources(text))).toBe('http://m.example.org/debian');
  });
});

describe('edk2 source', () => {
  it('finds source package files in the Debian pool layout', () => {
    expect(debianPoolUrl('http://m.example.org/debian/', 'edk2', 'edk2_2025.02.orig.tar.xz')).toBe('http://m.example.org/debian/pool/main/e/edk2/edk2_2025.02.orig.tar.xz');
    expect(debianPoolUrl('http://m.example.org/debian', 'libfoo', 'libfoo_1.orig.tar.gz')).toBe('http://m.example.org/debian/pool/main/libf/libfoo/libfoo_1.orig.tar.gz');
  });

  it('keys a prepared tree by every digest and the builder image', () => {
    const identity = { description: 'd', digests: [{ name: 'a', sha256: '1' }] };
    const key = sourceKey(identity, 'sha256:img');
    expect(sourceKey(identity, 'sha256:img')).toBe(key);
    expect(sourceKey(identity, 'sha256:other')).not.toBe(key);
    expect(sourceKey({ ...identity, digests: [{ name: 'a', sha256: '2' }] }, 'sha256:img')).not.toBe(key);
  });

  it('names the patch and the file when a patch does not apply', () => {
    const log = [
      'edk2-matrix: applying /src/debian/patches/one.patch',
      'edk2-matrix: applying /src/.edk2-matrix/patches/0001-fix.patch',
      'patching file OvmfPkg/OvmfPkgX64.dsc',
      'Hunk #1 FAILED at 12.',
      '1 out of 1 hunk FAILED -- saving rejects to file OvmfPkg/OvmfPkgX64.dsc.rej',
      'edk2-matrix: PATCH-FAILED /src/.edk2-matrix/patches/0001-fix.patch',
    ].join('\n');
    expect(patchFailure(log)).toEqual({ patch: '/src/.edk2-matrix/patches/0001-fix.patch', file: 'OvmfPkg/OvmfPkgX64.dsc' });
    expect(patchFailure('all fine')).toBeUndefined();
  });
});
