import { appendFileSync, cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILDER_KIND, builderDigest, builderTag, imageTag } from '../../pipeline/image/builder-image.ts';
import { parseLock, renderLock } from '../../pipeline/image/builder-lock.ts';
import { QEMU_CONTEXT, QEMU_KIND, qemuImageSpec } from '../../pipeline/image/qemu-image.ts';
import { REPO } from '../helpers/config.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const spec = (context: string) => ({ context, base: 'debian:trixie', suite: 'trixie', mirror: undefined, network: 'host', snapshot: undefined });

describe('the QEMU image beside the builder image', () => {
  it('leaves the builder\'s tag as it was: the same digest, base and archive give the same tag', () => {
    // Recorded with the code before the QEMU image existed: every builder tag, and so every
    // cached image and content key, stays what it was.
    expect(builderTag('a'.repeat(64), `sha256:${'b'.repeat(64)}`, 'http://archive.invalid/debian')).toBe('edk2-matrix/builder:6450c9a6369b39d1');
    expect(imageTag(QEMU_KIND.repo, 'a'.repeat(64), `sha256:${'b'.repeat(64)}`, 'http://archive.invalid/debian')).toBe('edk2-matrix/qemu:6450c9a6369b39d1');
  });

  it('keeps the builder\'s digest a digest of dockerfiles/builder alone: changing the QEMU image leaves it', () => {
    const root = tempDir('qemu-image-');
    cpSync(join(REPO, 'dockerfiles'), join(root, 'dockerfiles'), { recursive: true, verbatimSymlinks: true });
    const before = builderDigest(spec(join(root, 'dockerfiles/builder')));
    expect(before).toBe(builderDigest(spec(join(REPO, 'dockerfiles/builder'))));
    appendFileSync(join(root, 'dockerfiles/qemu/packages.lock'), 'qemu-system-x86=1:99\n');
    appendFileSync(join(root, 'dockerfiles/qemu/packages'), 'qemu-system-ppc\n');
    expect(builderDigest(spec(join(root, 'dockerfiles/builder')))).toBe(before);
    // ... while the QEMU image's own digest follows its directory.
    expect(builderDigest(spec(join(root, 'dockerfiles/qemu')))).not.toBe(builderDigest(spec(QEMU_CONTEXT)));
  });

  it('renders the builder lock\'s header word for word as before, and the QEMU lock with its own', () => {
    const builder = renderLock(['nasm=2.16.03-1'], { suite: 'trixie', arch: 'amd64' }, BUILDER_KIND.lockHeader);
    expect(builder).toBe([
      '# edk2-matrix builder lock: every package of the builder image, base image included, and its',
      '# exact version (Debian trixie, amd64). Written by `npm run matrix -- --update-builder-lock`;',
      '# not edited by hand. Its digest is part of every variant\'s content key.',
      'nasm=2.16.03-1',
      '',
    ].join('\n'));
    const qemu = renderLock(['nasm=2.16.03-1'], { suite: 'trixie', arch: 'amd64' }, QEMU_KIND.lockHeader);
    expect(qemu).toMatch(/^# edk2-matrix QEMU image lock/);
    expect(qemu).toContain('npm run verify -- --update-qemu-lock');
    expect(qemu).toContain('(Debian trixie, amd64)');
  });

  it('locks a QEMU of every system the architectures need, with the builder\'s installer', () => {
    const lock = parseLock(readFileSync(join(QEMU_CONTEXT, 'packages.lock'), 'utf8'));
    for (const name of ['qemu-system-x86', 'qemu-system-arm', 'qemu-system-riscv', 'qemu-system-misc']) expect(lock.has(name), name).toBe(true);
    expect(readFileSync(join(QEMU_CONTEXT, 'edk2-install-packages'))).toEqual(readFileSync(join(REPO, 'dockerfiles/builder/bin/edk2-install-packages')));
  });

  it('takes the builder\'s base, suite, archive and network, never its snapshot', () => {
    const s = qemuImageSpec({ base: 'example/debian:trixie', suite: 'trixie', mirror: 'http://mirror.invalid/debian', network: 'bridge' });
    expect(s).toEqual({ context: QEMU_CONTEXT, base: 'example/debian:trixie', suite: 'trixie', mirror: 'http://mirror.invalid/debian', network: 'bridge', snapshot: undefined });
    expect(qemuImageSpec()).toMatchObject({ base: 'debian:trixie', suite: 'trixie', mirror: undefined, network: 'host' });
  });
});
