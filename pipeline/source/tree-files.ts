/**
 * Which files of a working tree are the source: in a git repository (and each checked-out
 * submodule), what git itself counts as the tree — tracked files still present and untracked
 * files its ignore rules do not exclude (so edk2's own .gitignore leaves out Build/, Conf/'s
 * generated files and BaseTools' binaries); outside git, every file. Either way, what edk2
 * writes into a workspace (Build/, Conf/), BaseTools' build products and Python bytecode are
 * never taken: the build makes its own inside the container. Reads only; runs git with argv arrays.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SourceError } from '../errors.ts';

const run = promisify(execFile);

/** Paths (relative, `/`-separated) a tree never contributes, whatever git says. */
export function leftOutOfTree(path: string): boolean {
  return /^(Build|Conf|\.edk2-matrix)(\/|$)/.test(path)
    || /(^|\/)(\.git|__pycache__)(\/|$)/.test(path)
    || /\.pyc$/.test(path)
    || /^BaseTools\/Source\/C\/(bin|libs)\//.test(path)
    || /^BaseTools\/Source\/C\/.*\.[od]$/.test(path);
}

/** git, never asking a repository's configuration to run anything (fsmonitor, hooks). */
async function git(dir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null', '-C', dir, ...args],
    { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** HEAD of the git repository at `dir`, or undefined when it is none (or has no commit yet). */
export async function gitHead(dir: string): Promise<string | undefined> {
  if (!existsSync(join(dir, '.git'))) return undefined;
  try {
    return (await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD'])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Committer time (seconds) of HEAD at `dir`. */
export async function gitHeadTime(dir: string): Promise<number> {
  return Number((await git(dir, ['log', '-1', '--format=%ct', 'HEAD'])).trim());
}

export interface TreeListing {
  /** Relative paths, sorted, without duplicates. */
  readonly paths: readonly string[];
  /** Submodules git knows of that are not checked out (their files are missing from the tree). */
  readonly missingSubmodules: readonly string[];
  readonly git: boolean;
}

async function gitFiles(root: string, prefix: string, out: Set<string>, missing: string[]): Promise<void> {
  const dir = prefix ? join(root, prefix) : root;
  let staged: string;
  let others: string;
  try {
    [staged, others] = await Promise.all([
      git(dir, ['ls-files', '-z', '--stage']),
      git(dir, ['ls-files', '-z', '--others', '--exclude-standard']),
    ]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new SourceError(`source tree ${dir}: git cannot list its files: ${(e.stderr || e.message).trim().split('\n').pop()}`,
      'check that git works in that directory (git status), or pass a directory that is not a git repository', { cause: err });
  }
  for (const record of staged.split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const mode = record.slice(0, record.indexOf(' '));
    const path = `${prefix}${record.slice(tab + 1)}`;
    if (mode === '160000') {
      if (existsSync(join(root, path, '.git'))) await gitFiles(root, `${path}/`, out, missing);
      else missing.push(path);
    } else out.add(path);
  }
  for (const path of others.split('\0')) if (path) out.add(`${prefix}${path}`);
}

async function walkFiles(root: string, rel: string, out: Set<string>): Promise<void> {
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (leftOutOfTree(path)) continue;
    if (entry.isDirectory()) await walkFiles(root, path, out);
    else out.add(path);
  }
}

/** The files that make up the tree at `root` (see the module's comment). */
export async function listTreeFiles(root: string): Promise<TreeListing> {
  const found = new Set<string>();
  const missingSubmodules: string[] = [];
  const isGit = existsSync(join(root, '.git'));
  if (isGit) await gitFiles(root, '', found, missingSubmodules);
  else await walkFiles(root, '', found);
  const paths = [...found].filter((p) => !leftOutOfTree(p)).sort();
  return { paths, missingSubmodules, git: isGit };
}
