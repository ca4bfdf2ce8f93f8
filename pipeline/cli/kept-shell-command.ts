/**
 * `npm run matrix -- --shell ID`: steps into the workspace a failed build of ID left
 * (`--keep-failed`), in the builder image it ran in, with a terminal. Refuses in one line (exit
 * 2), starting nothing, when there is no kept workspace, when what it needs is gone, or when
 * stdin and stdout are not a terminal.
 */
import { findKeptWorkspaces, keptFromLabels } from '../edk2-build/kept-workspace.ts';
import { shellBanner, shellSpec } from '../edk2-build/kept-shell.ts';
import { newRunId, RunScope, LABEL_VARIANT } from '../engine/run-scope.ts';
import { UsageError } from '../errors.ts';
import type { CommandIo } from './command-context.ts';

export async function openKeptShell(id: string, io: CommandIo, signal: AbortSignal): Promise<number> {
  const engine = io.engine();
  await engine.ping();
  const [newest] = await findKeptWorkspaces(engine, id);
  const kept = newest && keptFromLabels(newest);
  if (!kept) throw new UsageError(`no kept workspace for ${id}: rerun with --keep-failed`);
  if (!io.stdin.isTTY || !io.stdout.isTTY) throw new UsageError('--shell needs a terminal');

  const notes: string[] = [];
  let image = (await engine.imageId(kept.image.id)) ? kept.image.id : undefined;
  if (!image) {
    image = kept.image.tag ? await engine.imageId(kept.image.tag) : undefined;
    if (!image) {
      throw new UsageError(`the builder image the kept workspace of ${id} was built in is gone (${kept.image.tag || kept.image.id}): ` +
        'rerun the build with --keep-failed');
    }
    notes.push(`note: the image the build ran in (${kept.image.id.slice(7, 19)}) is gone; using the current ${kept.image.tag} (${image.slice(7, 19)})`);
  }
  if (!(await engine.volumeExists(kept.sourceVolume))) {
    throw new UsageError(`the source volume ${kept.sourceVolume} the kept workspace of ${id} was built with is gone: rerun the build with --keep-failed`);
  }
  const ccache = kept.ccacheVolume !== undefined && (await engine.volumeExists(kept.ccacheVolume));
  if (kept.ccacheVolume && !ccache) notes.push(`note: the compiler cache ${kept.ccacheVolume} is gone; compiling without it`);

  io.stdout.write(shellBanner(kept, notes));
  // Labelled as a run of its own: `--clean` removes the container if this process dies with it open.
  const labels = new RunScope(engine, newRunId()).labels('shell', { [LABEL_VARIANT]: id });
  const spec = { ...shellSpec(kept, { image, ccache, term: process.env.TERM || 'xterm' }), labels };
  const exitCode = await engine.runInTerminal(spec, { input: io.stdin, output: io.stdout }, signal);
  io.stderr.write(`left the kept workspace of ${id}; it stays until \`npm run matrix -- --clean\`\n`);
  return exitCode === 0 ? 0 : 1;
}
