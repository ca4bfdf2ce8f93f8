/**
 * `pull --layout debian --destdir DIR`: installs a verified release of distro.yaml under
 * Debian's own paths and names (the table of debian-layout.ts), so that a packager builds
 * ovmf, ovmf-ia32, qemu-efi-aarch64 and qemu-efi-arm from it as they are. The transaction is
 * install.ts's: everything is staged first in a temporary directory beside the receipt (each
 * archive unpacked and checked against the signed index, Debian's files hard-linked from it,
 * its links made, its descriptors rewritten to Debian's paths, the snakeoil key pair checked
 * against the release's snakeoil store); then a journal lists every rename, each file is
 * renamed into place and the receipt is written last. A failure undoes it; a crash is
 * repaired by the next pull, --check or uninstall (install-journal.ts).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { link, mkdir, readFile, rename, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { BUILTIN_KEY_SETS, pinMismatch, REPO_CERTS, SNAKEOIL_KEY } from '../config/key-sets.ts';
import { RECEIPT_FORMAT, type InstalledVariant, type Manifest, type Receipt } from '../domain.ts';
import { CancelledError, ReleaseError, UsageError } from '../errors.ts';
import { syncPath, writeFileSynced } from '../host/atomic-publish.ts';
import { exists } from '../host/exists.ts';
import { MANIFEST_FILE, TEMP_PREFIX } from '../layout.ts';
import { sha256Hex } from '../checksums.ts';
import { DEBIAN_FILES, DEBIAN_VARIANTS, variantOf, type DebianFile } from './debian-layout.ts';
import { onDisk } from './install-paths.ts';
import { unpack, type InstallRequest } from './install.ts';
import { rewriteDescriptor } from './installed-descriptor.ts';
import { writeJournal } from './install-journal.ts';
import { readReceipt, receiptText, recordedLocation } from './receipt.ts';
import { beginJournal, commitReceipt, refuseInterrupted, stagingJournal, undoInstall } from './transaction.ts';

/** Where Debian's files live; receipts record them relative to it. */
export const DEBIAN_ROOT = '/usr/share';

export interface DebianSelection {
  /** The Debian files to install, in table order. */
  readonly files: readonly DebianFile[];
  /** Descriptors left out because a file they name is not installed (only with --only). */
  readonly skipped: readonly DebianFile[];
}

/**
 * What Debian's layout installs from the variants `ids` of a release that has `available`.
 * Without --only every variant the layout takes files from must be there; with --only, each
 * chosen variant must have a place in it.
 */
export function selectDebianFiles(available: readonly string[], ids: readonly string[], only: boolean, tag: string | undefined): DebianSelection {
  if (only) {
    const stray = ids.find((id) => !DEBIAN_VARIANTS.includes(id));
    if (stray) throw new UsageError(`--only: ${stray} has no place in Debian's layout`, `it takes files from ${DEBIAN_VARIANTS.join(', ')} (distro.yaml)`);
  } else {
    const missing = DEBIAN_VARIANTS.find((id) => !available.includes(id));
    if (missing) {
      const needs = DEBIAN_FILES.find((f) => variantOf(f) === missing)!;
      throw new ReleaseError(`release ${tag ?? '(untagged)'}`, `has no variant ${missing}, which Debian's ${needs.path} comes from`,
        'publish a release built from distro.yaml, or install the packages it has with --only (e.g. --only \'x64-*\')');
    }
  }
  const chosen = DEBIAN_FILES.filter((f) => f.source.kind !== 'none' && ids.includes(variantOf(f) ?? ''));
  const paths = new Set(chosen.map((f) => f.path));
  const complete = (f: DebianFile) => f.source.kind !== 'descriptor' || (paths.has(f.source.code) && paths.has(f.source.vars));
  return { files: chosen.filter(complete), skipped: chosen.filter((f) => !complete(f)) };
}

/** The snakeoil pair to install beside the release's snakeoil stores, once it is shown to be theirs. */
async function snakeoilPair(manifest: Manifest, origin: string): Promise<{ pem: Buffer; key: Buffer }> {
  const pinned = pinMismatch(BUILTIN_KEY_SETS.snakeoil!);
  if (pinned) throw new ReleaseError('keys/secureboot/snakeoil.pem', pinned, 'restore the file from this repository');
  const pem = await readFile(REPO_CERTS.snakeoil.path);
  const key = await readFile(SNAKEOIL_KEY);
  const cert = new X509Certificate(pem);
  const fingerprint = cert.fingerprint256.replaceAll(':', '').toLowerCase();
  const store = manifest.enrolled.find((s) => s.keySet === 'snakeoil');
  if (!store?.certificates.some((c) => c.variable === 'PK' && c.sha256 === fingerprint)) {
    throw new ReleaseError(origin, `its snakeoil store is not enrolled with keys/secureboot/snakeoil.pem (sha256 ${fingerprint.slice(0, 12)}…)`,
      'install from a release built with this repository\'s snakeoil key, or leave the snakeoil files out');
  }
  const der = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
  if (!der(createPublicKey(createPrivateKey(key))).equals(der(cert.publicKey))) {
    throw new ReleaseError(SNAKEOIL_KEY, 'is not the private key of keys/secureboot/snakeoil.pem', 'restore both files from this repository');
  }
  return { pem, key };
}

/** install.ts's request, with Debian's files instead of descriptor numbering. */
export interface DebianInstallRequest extends Omit<InstallRequest, 'prefer'> {
  readonly selection: DebianSelection;
}

export async function installDebianLayout(req: DebianInstallRequest): Promise<Receipt> {
  const { paths, release, signal, log, selection } = req;
  if (paths.mode !== 'package') throw new UsageError('--layout debian goes with --destdir', 'Debian\'s paths belong to its packages: build one with --destdir DIR');
  const disk = (p: string) => onDisk(paths, p);
  const step = req.step ?? (() => Promise.resolve());
  const checkAbort = () => {
    if (signal.aborted) throw new CancelledError();
  };
  const previous = await readReceipt(paths);
  await refuseInterrupted(paths);
  const other = previous.variants.find((v) => req.ids.includes(v.id) && v.layout !== 'debian');
  if (other) throw new ReleaseError(`install ${other.id}`, `is installed here in edk2-matrix's own layout (${other.dir})`, 'uninstall it first (npm run pull -- uninstall --destdir ...)');
  const owned = new Set(previous.variants.filter((v) => v.layout === 'debian')
    .flatMap((v) => [...v.files.map((f) => join(v.storeDir, f.path)), ...v.descriptors.map((d) => d.path)]));
  for (const f of selection.files) {
    if (await exists(disk(f.path)) && !owned.has(f.path)) throw new ReleaseError(`install ${disk(f.path)}`, 'exists and was not installed by pull', 'remove it, or install into another --destdir');
  }

  const stage = join(paths.dataDir, `${TEMP_PREFIX}${process.pid}-debian`);
  const parents = [...new Set([paths.dataDir, ...selection.files.map((f) => dirname(f.path))])].map(disk);
  let journal = await stagingJournal(paths, parents, req.made);
  const created = journal.created;
  try {
    await beginJournal(paths, journal, step);
    for (const d of [...parents, ...['v', 't', 'a'].map((s) => disk(join(stage, s)))]) await mkdir(d, { recursive: true });

    // 1. Stage: each archive unpacked and checked, then every Debian file made beside it.
    const manifests = new Map<string, Manifest>();
    for (const id of req.ids) {
      checkAbort();
      const variant = release.index.variants.find((v) => v.id === id)!;
      const asset = release.index.assets.find((a) => a.kind === 'archive' && a.variant === id)!;
      log.info(`${id}: unpacking ${asset.name}`);
      await unpack(release.archives.get(id)!, id, variant.files, disk(join(stage, 'v', id)), signal);
      manifests.set(id, JSON.parse(await readFile(disk(join(stage, 'v', id, MANIFEST_FILE)), 'utf8')) as Manifest);
      await step(`unpacked ${id}`);
    }
    const digest = new Map<string, { sha256: string; size: number }>();
    const descriptorText = new Map<string, string>();
    const staged = (i: number) => join(stage, 't', String(i));
    for (const [i, f] of selection.files.entries()) {
      checkAbort();
      const s = f.source;
      const id = variantOf(f)!;
      const manifest = manifests.get(id)!;
      if (s.kind === 'file') {
        const listed = release.index.variants.find((v) => v.id === id)!.files.find((x) => x.path === `${id}/${s.file}`);
        if (!listed) throw new ReleaseError(`${id}.tar.xz`, `has no ${s.file}, which Debian's ${f.path} is`, 'publish a release built from distro.yaml');
        await link(disk(join(stage, 'v', id, s.file)), disk(staged(i)));
        digest.set(f.path, { sha256: listed.sha256, size: listed.size });
      } else if (s.kind === 'link') {
        await symlink(s.target, disk(staged(i)));
        digest.set(f.path, digest.get(join(dirname(f.path), s.target))!);
      } else if (s.kind === 'descriptor') {
        const store = s.keySet === undefined ? undefined : manifest.enrolled.find((e) => e.keySet === s.keySet);
        if (s.keySet !== undefined && !store) throw new ReleaseError(`${id}.tar.xz`, `has no ${s.keySet} store, which Debian's ${f.path} describes`);
        const text = rewriteDescriptor(await readFile(disk(join(stage, 'v', id, store?.descriptor ?? manifest.descriptor)), 'utf8'),
          dirname(s.code), { code: basename(s.code), vars: relative(dirname(s.code), s.vars) }, `${id}.tar.xz`);
        await writeFileSynced(disk(staged(i)), text);
        descriptorText.set(f.path, text);
      } else if (s.kind === 'snakeoil') {
        const pair = await snakeoilPair(manifest, `${id}.tar.xz`);
        const data = s.part === 'pem' ? pair.pem : pair.key;
        await writeFileSynced(disk(staged(i)), data);
        digest.set(f.path, { sha256: sha256Hex(data), size: data.length });
      }
    }
    await syncPath(disk(join(stage, 't')));
    await step('staged');

    // 2. Commit: the journal of every rename, the renames, the receipt last.
    const entries: InstalledVariant[] = req.ids.map((id) => {
      const archive = release.index.assets.find((a) => a.kind === 'archive' && a.variant === id)!;
      const mine = selection.files.filter((f) => variantOf(f) === id);
      return {
        id, dir: DEBIAN_ROOT, storeDir: DEBIAN_ROOT, layout: 'debian' as const,
        files: mine.filter((f) => digest.has(f.path)).map((f) => ({ path: relative(DEBIAN_ROOT, f.path), ...digest.get(f.path)! })),
        descriptors: mine.filter((f) => descriptorText.has(f.path)).map((f) => ({ path: f.path, sha256: sha256Hex(descriptorText.get(f.path)!) })),
        release: { location: recordedLocation(paths, req.location), tag: release.index.release.tag, keyId: release.keyId, archiveSha256: archive.sha256, signedAt: release.signed?.signedAt },
      };
    });
    const receipt: Receipt = {
      generator: 'edk2-matrix-pull', formatVersion: RECEIPT_FORMAT,
      variants: [...previous.variants.filter((v) => !req.ids.includes(v.id)), ...entries].sort((a, b) => (a.id < b.id ? -1 : 1)),
      directories: [...previous.directories, ...created.filter((d) => !previous.directories.includes(d))],
    };
    const text = receiptText(receipt);
    const moves = await Promise.all(selection.files.map(async (f, i) => ({
      dir: f.path, staged: staged(i), aside: join(stage, 'a', String(i)), had: await exists(disk(f.path)),
    })));
    const installing = new Set(selection.files.map((f) => f.path));
    const replaced = previous.variants.filter((v) => req.ids.includes(v.id))
      .flatMap((v) => [...v.files.map((f) => join(v.storeDir, f.path)), ...v.descriptors.map((d) => d.path)])
      .filter((p) => !installing.has(p));
    journal = { ...journal, phase: 'commit', receiptSha256: sha256Hex(text), moves, remove: [...moves.filter((m) => m.had).map((m) => m.aside), ...replaced] };
    checkAbort();
    await writeJournal(paths, journal);
    await step('journal commit');
    for (const m of moves) {
      if (m.had) await rename(disk(m.dir), disk(m.aside));
      await rename(disk(m.staged), disk(m.dir));
      await step(`moved ${m.dir}`);
    }
    for (const d of new Set(moves.map((m) => dirname(m.dir)))) await syncPath(disk(d));
    checkAbort();
    await commitReceipt(paths, journal, text, log, step);
    return receipt;
  } catch (err) {
    return undoInstall(paths, journal, err, log);
  }
}
