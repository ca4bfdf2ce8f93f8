import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { builderArchive, parsePackages } from '../../pipeline/image/apt-archive.ts';
import { diffLocks, formatDiff, lockDigest, parseLock, renderLock, unavailable } from '../../pipeline/image/builder-lock.ts';

describe('the builder lock', () => {
  it('renders every package sorted under a header, and reads it back', () => {
    const text = renderLock(['nasm=2.16.03-1', 'acpica-tools=20250404-1'], { suite: 'trixie', arch: 'amd64' });
    expect(text).toMatch(/^# edk2-matrix builder lock/);
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['acpica-tools=20250404-1', 'nasm=2.16.03-1']);
    expect([...parseLock(text)]).toEqual([['acpica-tools', '20250404-1'], ['nasm', '2.16.03-1']]);
  });

  it('rejects a line that is not name=version, and a package locked twice', () => {
    expect(() => parseLock('nasm 2.16\n')).toThrow(/line 1: expected name=version/);
    expect(() => parseLock('nasm=1\nnasm=2\n')).toThrow(/line 2: nasm is locked twice/);
  });

  it('has a digest of what it pins, not of its comments or order', () => {
    expect(lockDigest(parseLock('# a\nb=1\na=2\n'))).toBe(lockDigest(parseLock('a=2\nb=1\n')));
    expect(lockDigest(parseLock('a=2\nb=1\n'))).not.toBe(lockDigest(parseLock('a=3\nb=1\n')));
  });

  it('says what an update changed', () => {
    const d = diffLocks(parseLock('gcc-14=14.2.0-19\nold=1\nsame=1\n'), parseLock('gcc-14=14.2.0-20\nnew=2\nsame=1\n'));
    expect(formatDiff(d)).toEqual(['~ gcc-14 14.2.0-19 -> 14.2.0-20', '+ new=2', '- old=1']);
  });

  it('finds locked versions the archive no longer serves, leaving out what the base image holds', () => {
    const lock = parseLock('libc6=2.41-12\nnasm=2.16.03-1\nuuid-dev=2.41.5-0+deb13u1\n');
    const base = parseLock('libc6=2.41-12\n');
    const archive = new Map([['libc6', new Set(['2.41-13'])], ['nasm', new Set(['2.16.03-1'])], ['uuid-dev', new Set(['2.41.5-0+deb13u2'])]]);
    expect(unavailable(lock, base, archive)).toEqual([{ name: 'uuid-dev', version: '2.41.5-0+deb13u1', served: ['2.41.5-0+deb13u2'] }]);
  });
});

describe('the archive the builder installs from', () => {
  it('is the configured mirror, or a dated snapshot under a base URL from the environment', () => {
    expect(builderArchive({ mirror: 'http://mirror.example/debian/', suite: 'trixie', snapshot: undefined }, {}).sourcesLine)
      .toBe('deb http://mirror.example/debian trixie main');
    const snap = builderArchive({ mirror: undefined, suite: 'trixie', snapshot: '20251120T000000Z' }, { EDK2_MATRIX_SNAPSHOT_ARCHIVE: 'http://archive.example/debian' });
    expect(snap).toMatchObject({ url: 'http://archive.example/debian/20251120T000000Z', sourcesLine: 'deb [check-valid-until=no] http://archive.example/debian/20251120T000000Z trixie main' });
    expect(() => builderArchive({ mirror: undefined, suite: 'trixie', snapshot: '20251120T000000Z' }, {})).toThrow(/needs the base URL of a dated Debian archive/);
    expect(builderArchive({ mirror: 'http://x/debian', suite: 'trixie', snapshot: undefined }, { EDK2_MATRIX_UNSIGNED_ARCHIVE: '1' }).sourcesLine)
      .toBe('deb [trusted=yes] http://x/debian trixie main');
  });

  it('reads every version of every package from a Packages index', async () => {
    const index = 'Package: nasm\nVersion: 2.16.03-1\nArchitecture: amd64\n\nPackage: nasm\nVersion: 2.16.03-2\n\nPackage: ccache\nVersion: 4.11.2-2\n';
    const served = await parsePackages(Readable.from([index]));
    expect([...served.get('nasm')!]).toEqual(['2.16.03-1', '2.16.03-2']);
    expect([...served.get('ccache')!]).toEqual(['4.11.2-2']);
  });
});
