/**
 * The third-party libraries an edk2 tree carries as git submodules (OpenSSL, MbedTLS, Brotli,
 * libspdm, libfdt, ...), with the version each states about itself where it states one: what a
 * variant's SBOM lists under the edk2 component. Read from `.gitmodules` and a few version
 * files during the source scan; pure.
 */
import type { SourceComponent } from '../domain.ts';

/** Submodules that never reach firmware: unit-test frameworks and BaseTools' host tools. */
const NOT_IN_FIRMWARE = /^(UnitTestFrameworkPkg|BaseTools)\//;

interface VersionFile {
  /** Path inside the submodule. */
  readonly file: string;
  readonly read: (text: string) => string | undefined;
}

const group = (re: RegExp) => (text: string) => re.exec(text)?.[1];

/** Where a library states its version, by the last component of its submodule path. */
const VERSION_FILES: Readonly<Record<string, VersionFile>> = {
  openssl: {
    file: 'VERSION.dat',
    read: (t) => {
      const n = (k: string) => new RegExp(`^${k}=(\\d+)`, 'm').exec(t)?.[1];
      return n('MAJOR') && n('MINOR') && n('PATCH') ? `${n('MAJOR')}.${n('MINOR')}.${n('PATCH')}` : undefined;
    },
  },
  mbedtls: { file: 'include/mbedtls/build_info.h', read: group(/#define\s+MBEDTLS_VERSION_STRING\s+"([^"]+)"/) },
  brotli: {
    file: 'c/common/version.h',
    read: (t) => {
      const hex = /#define\s+BROTLI_VERSION\s+0x([0-9a-fA-F]+)/.exec(t)?.[1];
      if (!hex) return undefined;
      const v = parseInt(hex, 16);
      return `${v >>> 24}.${(v >>> 12) & 0xfff}.${v & 0xfff}`;
    },
  },
  libspdm: { file: 'VERSION.md', read: group(/version\s+(\d+\.\d+\.\d+)/i) },
};

/** A licence text at the top of a directory: `License.txt`, `LICENSE`, `COPYING`, libfdt's `BSD-2-Clause`, ... */
export const LICENCE_FILE = /(^|\/)(licen[cs]e|copying|bsd-2-clause|gpl)(\.(txt|md))?$/i;

/** Is this a file the component scan needs (versions, and licence texts for source-notices.ts)? */
export function isComponentFile(path: string): boolean {
  return path === '.gitmodules' || LICENCE_FILE.test(path) || Object.values(VERSION_FILES).some((v) => path.endsWith(`/${v.file}`));
}

/** `[submodule "x"] path = ... url = ...` sections of a .gitmodules file. */
export function parseGitmodules(text: string): { path: string; url: string | undefined }[] {
  const out: { path: string; url: string | undefined }[] = [];
  for (const section of text.split(/^\s*\[submodule\b/m).slice(1)) {
    const path = /^\s*path\s*=\s*(.+?)\s*$/m.exec(section)?.[1];
    const url = /^\s*url\s*=\s*(.+?)\s*$/m.exec(section)?.[1];
    if (path) out.push({ path, url });
  }
  return out;
}

/**
 * The submodules present in the tree (a submodule directory with no file in it is one the
 * source left out, as Debian's orig tarball does for jansson and oniguruma), sorted by path.
 */
export function bundledComponents(files: ReadonlyMap<string, string>, filePaths: readonly string[]): SourceComponent[] {
  const modules = parseGitmodules(files.get('.gitmodules') ?? '');
  const present = (dir: string) => filePaths.some((p) => p.startsWith(`${dir}/`));
  return modules
    .filter((m) => !NOT_IN_FIRMWARE.test(m.path) && present(m.path))
    .map((m) => {
      const name = m.path.split('/').pop()!;
      const vf = VERSION_FILES[name];
      const text = vf && files.get(`${m.path}/${vf.file}`);
      return { name, path: m.path, url: m.url, version: text ? vf.read(text) : undefined };
    })
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}
