/**
 * A variant's kept edk2 build tree, for incremental builds of a working tree (source.path):
 * the workspace (`/work`: edk2's Build/ and Conf/) stays in an engine volume between runs, one
 * per variant and platform build (the identity below; defines are not part of it), and the
 * next build of that variant starts from it. edk2's make then rebuilds what is older than
 * its inputs; the source volume's file times are the epochs of their content (see
 * source/tree-snapshot.ts), so "older" means exactly "changed since that build".
 *
 * Whether a change may start from the kept tree is decided here, by class of change, from what
 * the tree was built from (kept on the host beside the volume: the files' digests and the build
 * arguments): every class of `INCREMENTAL_CLASSES` is proven byte-identical to a clean build by
 * test/integration/incremental.test.ts (one architecture) and `npm run bench` (all of them);
 * anything else builds clean, and the run says why. A build that fails, or is interrupted,
 * leaves no record, so the next one is clean.
 */
import { mkdir, open, readdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { BuildPlan, Log, TreeContent } from '../domain.ts';
import { sha256Hex } from '../checksums.ts';
import { exists } from '../host/exists.ts';
import { pidAlive } from '../host/pid-alive.ts';
import { readCachedJson, type JsonFileKind } from '../host/read-json.ts';
import type { RunScope } from '../engine/run-scope.ts';
import { WORKSPACE } from '../plan/build-command.ts';
import { formatPathLines, parsePathLines } from '../source/tree-snapshot.ts';

/** Bump when what a kept tree records, or how it is used, changes: every kept tree builds clean once. */
const BUILD_TREE_FORMAT = 1;

/** Directory of the cache holding each kept tree's record and lock. */
export const BUILD_TREES_DIR = 'build-trees';

/** What changed since the kept tree was built, as the decision sees it. */
export interface TreeChange {
  /** Paths whose content, type or executable bit changed. */
  readonly changed: readonly string[];
  readonly added: readonly string[];
  readonly deleted: readonly string[];
  /** The build's arguments (defines, PCDs) differ. */
  readonly argsChanged: boolean;
}

export type BuildStart =
  | { readonly mode: 'incremental'; readonly change: TreeChange }
  /** From a copy of a sibling's kept tree (same platform build, other defines): `from` is its volume. */
  | { readonly mode: 'seed'; readonly from: string; readonly sibling: string; readonly change: TreeChange }
  | { readonly mode: 'clean'; readonly reason: string };

/** The record of a kept tree: what it was built from. */
const recordSchema = z.object({
  format: z.literal(BUILD_TREE_FORMAT),
  variant: z.string(),
  volume: z.string(),
  /** siblingIdentity: kept trees with the same one may seed each other. */
  sibling: z.string(),
  root: z.string(),
  digest: z.string(),
  args: z.array(z.string()),
  /** `path TAB type exec sha256` lines. */
  files: z.string(),
  builtAt: z.string(),
});
type BuildTreeRecord = z.output<typeof recordSchema>;
const RECORD_KIND: JsonFileKind = { what: 'kept build tree record', hint: 'building that variant clean' };

/**
 * Everything about a build that a kept tree cannot follow, whatever the proof: the variant, the
 * builder, the tree's place on this host (its epochs are its own), and the platform build
 * (DSC, architectures, target, toolchain and its environment). Defines and PCDs are not in it:
 * a changed one is a class of change decided below.
 */
export function buildTreeIdentity(plan: BuildPlan, builderDigest: string, treeRoot: string): string {
  return sha256Hex(JSON.stringify({ v: BUILD_TREE_FORMAT, id: plan.variant.id, sibling: siblingIdentity(plan, builderDigest, treeRoot) }));
}

/**
 * The same without the variant: siblings (one DSC, other defines or PCDs) share it, and a
 * variant without a kept tree may start from a copy of a sibling's — to its build the copy is
 * a kept tree whose defines changed, the class of change proven like any other.
 */
export function siblingIdentity(plan: BuildPlan, builderDigest: string, treeRoot: string): string {
  const { variant, recipe } = plan;
  return sha256Hex(JSON.stringify({
    v: BUILD_TREE_FORMAT, builder: builderDigest, root: treeRoot,
    dsc: variant.platform.dsc, arches: variant.platform.buildArches, target: variant.target, toolchain: variant.toolchain,
    env: recipe.build.env,
  }));
}

export function buildTreeVolume(namespace: string, variantId: string, identity: string): string {
  return `edk2-matrix-buildtree-${namespace}-${variantId}-${identity.slice(0, 12)}`;
}

export function treeChange(before: ReadonlyMap<string, string>, beforeArgs: readonly string[], now: ReadonlyMap<string, string>, args: readonly string[]): TreeChange {
  const changed: string[] = [];
  const added: string[] = [];
  const deleted: string[] = [];
  for (const [path, d] of now) {
    const was = before.get(path);
    if (was === undefined) added.push(path);
    else if (was !== d) changed.push(path);
  }
  for (const path of before.keys()) if (!now.has(path)) deleted.push(path);
  return { changed, added, deleted, argsChanged: JSON.stringify(beforeArgs) !== JSON.stringify(args) };
}

/**
 * The tools themselves: a change under BaseTools/ changes how everything is generated, which
 * no output's time says. Conf/ templates are copied into the workspace by edksetup.sh.
 */
const TOOL_PATHS = /^(BaseTools|Conf)\//;

/** Which start a change allows: incremental only for the classes proven identical. */
export function decideStart(change: TreeChange): BuildStart {
  const paths = [...change.changed, ...change.added, ...change.deleted];
  const tool = paths.find((p) => TOOL_PATHS.test(p));
  if (tool) return { mode: 'clean', reason: `edk2's tools changed (${tool})` };
  return { mode: 'incremental', change };
}

/** `since` what the change is counted from: the variant's last build, or a sibling's. */
export function describeChange(change: TreeChange, since = 'since its last build'): string {
  const parts = [
    change.changed.length ? `${change.changed.length} changed` : '',
    change.added.length ? `${change.added.length} added` : '',
    change.deleted.length ? `${change.deleted.length} deleted` : '',
  ].filter(Boolean);
  const files = parts.length ? `${parts.join(', ')} file${change.changed.length + change.added.length + change.deleted.length === 1 ? '' : 's'}` : 'no file changed';
  return `${files}${change.argsChanged ? ', defines or PCDs changed' : ''} ${since}`;
}

/** One variant's use of its kept tree in this run: a held lock, and its record to write on success. */
export interface BuildTreeLease {
  readonly volume: string;
  readonly start: BuildStart;
  /** For a seed: the sibling's tree is copied; lets go of it (finish does too). */
  seeded(): Promise<void>;
  /** After a successful build: records what the tree now holds. Always ends the lease. */
  finish(ok: boolean): Promise<void>;
}

interface LeaseInputs {
  readonly cacheDir: string;
  readonly namespace: string;
  readonly plan: BuildPlan;
  readonly builderDigest: string;
  readonly tree: TreeContent;
  readonly args: readonly string[];
  /** `--clean-build`: start from nothing, and keep the result for the next run. */
  readonly forceClean: boolean;
  /** Whether the engine still has the volume. */
  readonly volumeExists: (name: string) => Promise<boolean>;
  readonly log: Pick<Log, 'warn'>;
}

/**
 * Takes the variant's kept tree for this run, or undefined when another live run holds it (that
 * run's build is not disturbed; this one builds clean in a volume of its own). The record is
 * removed as the lease starts: from then on only a finished, successful build writes it again.
 */
export async function leaseBuildTree(i: LeaseInputs): Promise<BuildTreeLease | undefined> {
  const { dir, volume, recordPath, lockPath } = keptTree(i, i.plan);
  await mkdir(dir, { recursive: true });
  if (!(await takeLock(lockPath))) return undefined;
  const sibling = siblingIdentity(i.plan, i.builderDigest, i.tree.root);
  let start: BuildStart;
  let siblingLock: string | undefined;
  const letGoOfSibling = async () => {
    if (siblingLock) await releaseLock(siblingLock);
    siblingLock = undefined;
  };
  try {
    const record = await readCachedJson(recordPath, recordSchema, RECORD_KIND, i.log);
    await rm(recordPath, { force: true });
    if (i.forceClean) start = { mode: 'clean', reason: '--clean-build' };
    else if (!record || record.variant !== i.plan.variant.id || record.root !== i.tree.root || !(await i.volumeExists(volume))) {
      const reason = record ? 'its kept build is gone' : 'no kept build yet';
      const seed = await takeSibling(dir, sibling, i);
      siblingLock = seed?.lock;
      start = seed?.start ?? { mode: 'clean', reason };
    } else start = decideStart(treeChange(parsePathLines(record.files), record.args, i.tree.files, i.args));
  } catch (err) {
    await letGoOfSibling();
    await releaseLock(lockPath);
    throw err;
  }
  return {
    volume,
    start,
    seeded: letGoOfSibling,
    async finish(ok) {
      try {
        await letGoOfSibling();
        if (ok) {
          // Small fields first: takeSibling reads only the head of each record.
          const record: BuildTreeRecord = {
            format: BUILD_TREE_FORMAT, variant: i.plan.variant.id, volume, sibling, root: i.tree.root, digest: i.tree.digest,
            args: [...i.args], files: formatPathLines(i.tree.files), builtAt: new Date().toISOString(),
          };
          const temp = `${recordPath}.${process.pid}.tmp`;
          await writeFile(temp, JSON.stringify(record));
          await rename(temp, recordPath);
        }
      } finally {
        await releaseLock(lockPath);
      }
    },
  };
}

/** Where a variant's kept tree is: its volume, and its record and lock in the cache. */
function keptTree(i: Pick<LeaseInputs, 'cacheDir' | 'namespace' | 'builderDigest' | 'tree'>, plan: BuildPlan) {
  const volume = buildTreeVolume(i.namespace, plan.variant.id, buildTreeIdentity(plan, i.builderDigest, i.tree.root));
  const dir = join(i.cacheDir, BUILD_TREES_DIR);
  return { dir, volume, recordPath: join(dir, `${volume}.json`), lockPath: join(dir, `${volume}.lock`) };
}

/**
 * Which variants of a run wait for a sibling before they start, as follower → leader: in each
 * group of siblings to be built, those without a kept tree of their own start after the group's
 * leader (the first with a kept tree, else the first) has built, from a copy of its tree —
 * rather than building clean side by side with it. Nobody waits under `--clean-build`.
 */
export async function siblingWaits(
  plans: readonly BuildPlan[],
  i: Pick<LeaseInputs, 'cacheDir' | 'namespace' | 'builderDigest' | 'tree' | 'forceClean'>,
): Promise<Map<string, string>> {
  const waits = new Map<string, string>();
  if (i.forceClean) return waits;
  const groups = new Map<string, { id: string; kept: boolean }[]>();
  for (const plan of plans) {
    const member = { id: plan.variant.id, kept: await exists(keptTree(i, plan).recordPath) };
    const sibling = siblingIdentity(plan, i.builderDigest, i.tree.root);
    const group = groups.get(sibling);
    if (group) group.push(member);
    else groups.set(sibling, [member]);
  }
  for (const members of groups.values()) {
    const leader = (members.find((m) => m.kept) ?? members[0]!).id;
    for (const m of members) if (!m.kept && m.id !== leader) waits.set(m.id, leader);
  }
  return waits;
}

/**
 * A sibling's kept tree to start from, held (its lock taken) until it is copied: the first
 * whose record is sound, whose volume is there and that no build holds, and whose change to
 * this build is one that may start from a kept tree.
 */
async function takeSibling(dir: string, sibling: string, i: LeaseInputs): Promise<{ start: BuildStart; lock: string } | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  for (const name of names) {
    // A record is megabytes (every file's digest); its head says whose sibling it is.
    if (!(await recordHead(join(dir, name))).includes(`"sibling":${JSON.stringify(sibling)}`)) continue;
    const volume = name.slice(0, -'.json'.length);
    const lock = join(dir, `${volume}.lock`);
    if (!(await takeLock(lock))) continue;
    // Read under its lock: a build of it may have ended (or begun) since its head was read.
    const record = await readCachedJson(join(dir, name), recordSchema, RECORD_KIND, i.log);
    const usable = record && record.sibling === sibling && record.volume === volume && record.variant !== i.plan.variant.id
      && record.root === i.tree.root && (await i.volumeExists(volume));
    const start = usable ? decideStart(treeChange(parsePathLines(record.files), record.args, i.tree.files, i.args)) : undefined;
    if (start?.mode === 'incremental') return { start: { mode: 'seed', from: volume, sibling: record!.variant, change: start.change }, lock };
    await releaseLock(lock);
  }
  return undefined;
}

/** The first KiB of a record: its small fields come before the file list (see recordSchema). */
async function recordHead(path: string): Promise<string> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(1024), 0, 1024, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Lock files this process holds (two variants of one run may both want one tree: a sibling's). */
const held = new Set<string>();

/**
 * An exclusive lock file holding this process's pid; one left by a dead process is taken over
 * (or by an earlier process that had this pid: one this process holds is in `held`).
 */
async function takeLock(path: string): Promise<boolean> {
  if (held.has(path)) return false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      held.add(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) return false;
      await rm(path, { force: true });
    }
  }
  return false;
}

async function releaseLock(path: string): Promise<void> {
  held.delete(path);
  await rm(path, { force: true });
}

/** Copies a sibling's kept tree (its volume `from`) into this variant's empty one, as the build user, times kept. */
export async function copyBuildTree(scope: RunScope, imageId: string, from: string, to: string, signal: AbortSignal): Promise<void> {
  const { exitCode, output } = await scope.capture({
    image: imageId,
    cmd: ['cp', '-a', '--', '/from/.', `${WORKSPACE}/`],
    user: 'builder',
    mounts: [{ volume: from, target: '/from', readOnly: true }, { volume: to, target: WORKSPACE, readOnly: false }],
    network: 'none',
    hardened: true,
  }, 'build-tree', signal);
  if (exitCode !== 0) throw new Error(`copying the kept build tree ${from} failed (exit ${exitCode}): ${output.trim().split('\n').slice(-2).join(' | ')}`);
}
