/**
 * A tiny Debian archive on disk, made with the standard tools (dpkg-deb builds each package;
 * the Packages index and the Release file are written as the archive format describes them):
 * `dists/<suite>/Release`, `dists/<suite>/main/binary-<arch>/Packages.gz`, `pool/main/*.deb`.
 * Unsigned: the builder installs from it with EDK2_MATRIX_UNSIGNED_ARCHIVE=1.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Hex } from '../../pipeline/checksums.ts';
import { debianArch } from '../../pipeline/image/apt-archive.ts';

export interface DebPackage {
  readonly name: string;
  readonly version: string;
}

function buildDeb(p: DebPackage, out: string): void {
  const root = mkdtempSync(join(tmpdir(), 'edk2-matrix-deb-'));
  try {
    mkdirSync(join(root, 'DEBIAN'));
    mkdirSync(join(root, 'usr', 'share', p.name), { recursive: true });
    writeFileSync(join(root, 'usr', 'share', p.name, 'version'), `${p.version}\n`);
    writeFileSync(join(root, 'DEBIAN', 'control'), [
      `Package: ${p.name}`, `Version: ${p.version}`, 'Architecture: all', 'Maintainer: edk2-matrix tests <tests@invalid>',
      `Description: test package ${p.name} ${p.version}`, '',
    ].join('\n'));
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, out], { stdio: 'ignore' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** (Re)writes the archive at `root` to serve exactly `packages` for `suite`. */
export function writeAptArchive(root: string, suite: string, packages: readonly DebPackage[]): void {
  rmSync(join(root, 'dists'), { recursive: true, force: true });
  rmSync(join(root, 'pool'), { recursive: true, force: true });
  const arch = debianArch();
  mkdirSync(join(root, 'pool', 'main'), { recursive: true });
  const stanzas: string[] = [];
  for (const p of packages) {
    const file = join('pool', 'main', `${p.name}_${p.version}_all.deb`);
    buildDeb(p, join(root, file));
    const data = readFileSync(join(root, file));
    const control = execFileSync('dpkg-deb', ['--field', join(root, file)]).toString().trimEnd();
    stanzas.push(`${control}\nFilename: ${file}\nSize: ${statSync(join(root, file)).size}\nSHA256: ${sha256Hex(data)}\n`);
  }
  const dir = join(root, 'dists', suite, 'main', `binary-${arch}`);
  mkdirSync(dir, { recursive: true });
  const plain = Buffer.from(stanzas.join('\n'));
  const index = gzipSync(plain);
  writeFileSync(join(dir, 'Packages'), plain);
  writeFileSync(join(dir, 'Packages.gz'), index);
  // apt fetches an index only when Release lists it uncompressed too.
  writeFileSync(join(root, 'dists', suite, 'Release'), [
    `Suite: ${suite}`, `Codename: ${suite}`, `Architectures: ${arch}`, 'Components: main', `Date: ${new Date().toUTCString()}`, 'SHA256:',
    ` ${sha256Hex(plain)} ${plain.length} main/binary-${arch}/Packages`,
    ` ${sha256Hex(index)} ${index.length} main/binary-${arch}/Packages.gz`, '',
  ].join('\n'));
}
