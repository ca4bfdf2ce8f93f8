/**
 * The Debian archive the builder installs from: its URL (the configured mirror, or a dated
 * snapshot of an archive whose base URL the user or host configures), the sources.list line
 * the image build uses, and which versions of which packages it serves (read from its
 * Packages index on this host, before any image is built). No archive's host name is ever
 * written in the repository.
 */
import { arch } from 'node:os';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import lzma from 'lzma-native';
import type { BuilderSpec } from '../domain.ts';
import { ImageError } from '../errors.ts';
import { hostDebianMirror, MIRROR_ENV } from '../host/debian-mirror.ts';

/** Base URL of a dated-snapshot archive (e.g. a snapshot service's `/archive/debian`). */
export const SNAPSHOT_ARCHIVE_ENV = 'EDK2_MATRIX_SNAPSHOT_ARCHIVE';
/** Set to 1 for a local, unsigned test archive: apt then trusts it without a signature. */
export const UNSIGNED_ARCHIVE_ENV = 'EDK2_MATRIX_UNSIGNED_ARCHIVE';

export interface AptArchive {
  readonly url: string;
  readonly suite: string;
  readonly snapshot: string | undefined;
  /** One sources.list line for it. */
  readonly sourcesLine: string;
}

/** Debian's name for this host's architecture: the builder image's. */
export function debianArch(nodeArch = arch()): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf', ia32: 'i386', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };
  const name = names[nodeArch];
  if (!name) throw new ImageError(`no Debian architecture for ${nodeArch}`);
  return name;
}

export function builderArchive(spec: Pick<BuilderSpec, 'mirror' | 'suite' | 'snapshot'>, env: NodeJS.ProcessEnv = process.env): AptArchive {
  const options: string[] = [];
  let url: string;
  if (spec.snapshot) {
    const base = env[SNAPSHOT_ARCHIVE_ENV];
    if (!base) {
      throw new ImageError(`builder.snapshot ${spec.snapshot} needs the base URL of a dated Debian archive`,
        `set ${SNAPSHOT_ARCHIVE_ENV} to it (the URL under which /<timestamp>/dists/ is served)`);
    }
    url = `${base.replace(/\/+$/, '')}/${spec.snapshot}`;
    // A snapshot's Release file is as old as the snapshot: apt must not call it expired.
    options.push('check-valid-until=no');
  } else {
    const mirror = spec.mirror ?? hostDebianMirror();
    if (!mirror) {
      throw new ImageError('no Debian archive to install the builder\'s packages from',
        `set builder.mirror in matrix.yaml or ${MIRROR_ENV}, or configure apt on this host`);
    }
    url = mirror.replace(/\/+$/, '');
  }
  if (env[UNSIGNED_ARCHIVE_ENV] === '1') options.push('trusted=yes');
  const opts = options.length ? `[${options.join(' ')}] ` : '';
  return { url, suite: spec.suite, snapshot: spec.snapshot, sourcesLine: `deb ${opts}${url} ${spec.suite} main` };
}

/** Name → every version the archive's `main` component serves for this architecture. */
export async function servedVersions(a: AptArchive, debArch: string, signal: AbortSignal): Promise<Map<string, Set<string>>> {
  const dir = `${a.url}/dists/${a.suite}/main/binary-${debArch}`;
  for (const [suffix, decode] of [['.xz', () => lzma.createStream('streamDecoder', {})], ['.gz', () => createGunzip()]] as const) {
    let res: Response;
    try {
      res = await fetch(`${dir}/Packages${suffix}`, { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ImageError(`cannot read the package index of ${a.url} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`,
        'check the archive URL (builder.mirror, builder.snapshot) and the network', { cause: err });
    }
    if (res.status === 404) continue;
    if (!res.ok || !res.body) throw new ImageError(`${dir}/Packages${suffix}: ${res.status} ${res.statusText}`);
    return parsePackages(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>).pipe(decode()));
  }
  throw new ImageError(`${a.url} serves no package index for ${a.suite}/main/binary-${debArch}`, 'check builder.suite and the archive URL');
}

/** Package and Version of every stanza of a Packages file. */
export async function parsePackages(input: NodeJS.ReadableStream): Promise<Map<string, Set<string>>> {
  const served = new Map<string, Set<string>>();
  let name: string | undefined;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.startsWith('Package: ')) name = line.slice(9).trim();
    else if (line.startsWith('Version: ') && name) {
      let versions = served.get(name);
      if (!versions) served.set(name, (versions = new Set()));
      versions.add(line.slice(9).trim());
    } else if (line === '') name = undefined;
  }
  return served;
}
