/**
 * A `git` source: the pinned commit (and its submodules) checked out into the cache with the
 * git command line, there being no library that handles submodules, then packed like an archive.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Pack } from 'tar-stream';
import { SourceError } from '../errors.ts';
import type { Log } from '../domain.ts';
import { BUILD_UID, type DirectoryWalker } from './pack-tree.ts';
import { checkEntry } from './tar-safety.ts';
import { sha256Hex } from '../checksums.ts';

const run = promisify(execFile);

/** The git invocations that check out `commit` of `url` into `dir`, in order. */
export function checkoutSteps(url: string, commit: string, dir: string, submodules: boolean): { argv: string[]; fallback?: string[] }[] {
  return [
    { argv: ['git', 'init', '--quiet', dir] },
    // Most servers let a client fetch one commit by id; the rest need the whole history.
    // `--` ends the options: the URL is never read as one (the schema refuses a leading - too).
    { argv: ['git', '-C', dir, 'fetch', '--quiet', '--depth', '1', '--', url, commit], fallback: ['git', '-C', dir, 'fetch', '--quiet', '--', url] },
    { argv: ['git', '-C', dir, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', commit] },
    ...(submodules ? [{ argv: ['git', '-C', dir, 'submodule', 'update', '--init', '--recursive', '--quiet'] }] : []),
  ];
}

async function git(argv: string[], signal: AbortSignal): Promise<string> {
  const [cmd, ...args] = argv;
  const { stdout } = await run(cmd!, args, { signal, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export async function checkoutGit(url: string, commit: string, submodules: boolean, cacheDir: string, log: Log, signal: AbortSignal): Promise<string> {
  const dir = join(cacheDir, 'git', sha256Hex(`${url}\0${commit}\0${submodules}`).slice(0, 16));
  try {
    if ((await git(['git', '-C', dir, 'rev-parse', 'HEAD'], signal)).trim() === commit) return dir;
  } catch {
    // Not checked out yet.
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  log.info(`fetching ${url} at ${commit.slice(0, 12)}${submodules ? ' with submodules' : ''}`);
  try {
    for (const step of checkoutSteps(url, commit, dir, submodules)) {
      try {
        await git(step.argv, signal);
      } catch (err) {
        if (!step.fallback) throw err;
        await git(step.fallback, signal);
      }
    }
    const head = (await git(['git', '-C', dir, 'rev-parse', 'HEAD'], signal)).trim();
    if (head !== commit) throw new Error(`checked out ${head}, not ${commit}`);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    if (err instanceof SourceError || signal.aborted) throw err;
    const e = err as { stderr?: string; message: string };
    throw new SourceError(`git source ${url} at ${commit}: ${(e.stderr || e.message).trim().split('\n').pop()}`,
      'check source.git.url and that the commit exists there', { cause: err });
  }
  return dir;
}

/** Adds the checked-out tree (without .git) to a tar stream, links checked like archive entries. */
export function walkCheckout(root: string, onSkip: (entry: string, reason: string) => void): DirectoryWalker {
  return async (out: Pack) => {
    const add = (header: Parameters<Pack['entry']>[0], body?: NodeJS.ReadableStream) =>
      new Promise<void>((resolve, reject) => {
        const sink = out.entry({ ...header, uid: BUILD_UID, gid: BUILD_UID }, (err) => (err ? reject(err) : resolve()));
        if (body) body.pipe(sink as unknown as NodeJS.WritableStream);
        else sink.end(undefined);
      });
    const walk = async (rel: string): Promise<void> => {
      for (const name of (await readdir(join(root, rel))).sort()) {
        if (name === '.git') continue;
        const path = rel ? `${rel}/${name}` : name;
        const st = await lstat(join(root, path));
        if (st.isDirectory()) {
          await add({ name: path, type: 'directory', mode: st.mode & 0o7777 });
          await walk(path);
        } else if (st.isSymbolicLink()) {
          const decision = checkEntry({ name: path, type: 'symlink', linkname: await readlink(join(root, path)) }, 0);
          if (decision.action === 'skip') onSkip(path, decision.reason);
          else await add({ name: path, type: 'symlink', linkname: decision.linkname ?? '' });
        } else if (st.isFile()) {
          await add({ name: path, type: 'file', mode: st.mode & 0o7777, size: st.size, mtime: st.mtime }, createReadStream(join(root, path)));
        }
      }
    };
    await walk('');
  };
}
