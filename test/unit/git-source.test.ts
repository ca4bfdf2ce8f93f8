import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract, pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { checkoutGit, checkoutSteps, walkCheckout } from '../../pipeline/source/git.ts';

const log = { info: () => {}, warn: () => {} };
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd }).toString().trim();

/** A local repository with two commits; returns it and the first commit's id. */
function repo(): { dir: string; first: string } {
  const dir = tempDir('edk2-git-');
  git(dir, 'init', '-q');
  writeFileSync(join(dir, 'OvmfPkg.dsc'), 'first\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'first');
  const first = git(dir, 'rev-parse', 'HEAD');
  writeFileSync(join(dir, 'OvmfPkg.dsc'), 'second\n');
  git(dir, 'commit', '-q', '-am', 'second');
  return { dir, first };
}

describe('git source', () => {
  it('checks out the pinned commit, then submodules when asked, as argv arrays', () => {
    const steps = checkoutSteps('https://example.org/edk2.git', 'a'.repeat(40), '/c', true).map((s) => s.argv);
    expect(steps[1]).toEqual(['git', '-C', '/c', 'fetch', '--quiet', '--depth', '1', '--', 'https://example.org/edk2.git', 'a'.repeat(40)]);
    expect(steps.at(-1)).toEqual(['git', '-C', '/c', 'submodule', 'update', '--init', '--recursive', '--quiet']);
    expect(checkoutSteps('u', 'c', '/c', false).some((s) => s.argv.includes('submodule'))).toBe(false);
  });

  it('checks out a commit that is not the branch head', async () => {
    const { dir, first } = repo();
    const cache = tempDir('edk2-cache-');
    const checkout = await checkoutGit(`file://${dir}`, first, false, cache, log, new AbortController().signal);
    expect(readFileSync(join(checkout, 'OvmfPkg.dsc'), 'utf8')).toBe('first\n');
    // A second call reuses the checkout.
    expect(await checkoutGit(`file://${dir}`, first, false, cache, log, new AbortController().signal)).toBe(checkout);
  });

  it('fails with the commit named when it does not exist', async () => {
    const { dir } = repo();
    await expect(checkoutGit(`file://${dir}`, 'f'.repeat(40), false, tempDir('c-'), log, new AbortController().signal))
      .rejects.toThrow(new RegExp(`git source file://.* at ${'f'.repeat(40)}:`));
  });

  it('packs the checkout without .git, leaving out links that leave the tree', async () => {
    const { dir } = repo();
    symlinkSync('/etc/passwd', join(dir, 'escape'));
    const skipped: string[] = [];
    const out = pack();
    const names: string[] = [];
    const ex = extract();
    out.pipe(ex as unknown as NodeJS.WritableStream);
    const reading = (async () => {
      for await (const e of ex) {
        names.push(e.header.name);
        e.resume();
      }
    })();
    await walkCheckout(dir, (entry, reason) => skipped.push(`${entry}: ${reason}`))(out);
    out.finalize();
    await reading;
    expect(names).toEqual(['OvmfPkg.dsc']);
    expect(skipped).toEqual(['escape: symbolic link to absolute path /etc/passwd']);
  });
});
