/**
 * `npm run release` and `npm run pull` as a user runs them (arguments in, exit status and output
 * out): both parse their options with the shared declarations of options.ts, so --help, an
 * unknown option and a --timeout without its unit read as they do for matrix and verify.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Command } from '../../pipeline/cli/command-context.ts';
import { runToExit } from '../../pipeline/cli/main.ts';
import { pullCommand } from '../../pipeline/cli/pull-command.ts';
import { KEY_ENV, releaseCommand } from '../../pipeline/cli/release-command.ts';
import { formatPublicKey, formatSecretKey, generateKey, keyIdHex } from '../../pipeline/release/minisign.ts';
import { capturedStream } from '../helpers/captured-stream.ts';
import { tempDir } from '../helpers/temp-dir.ts';

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(command: Command, argv: readonly string[]): Promise<Ran> {
  const stdout = capturedStream();
  const stderr = capturedStream();
  const code = await runToExit(command, argv, new AbortController().signal, { stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** A public key file of a key nobody signs with. */
function otherPublicKey(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, formatPublicKey(generateKey()));
  return path;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('npm run release, from arguments to exit status', () => {
  it('prints --help from the declarations: commands, then options by section', async () => {
    const r = await run(releaseCommand, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run release -- <command> \[options\]\n\nCommands:\n {2}keygen --out DIR/);
    for (const command of ['assemble', 'sign DIR', 'tag', 'verify DIR|URL', 'check-signing', 'rotate --new PUB', 'revoke NAME']) {
      expect(r.stdout).toContain(`\n  ${command}`);
    }
    expect(r.stdout).toMatch(/\nOptions for assemble:\n {2}--from DIR /);
    expect(r.stdout).toContain('\nOptions for verify:\n  --timeout TIME     give up on a server that sends nothing for this long: 30s, 2m (default: 30s)\n');
    expect(r.stdout).toMatch(/ {2}-h, --help {9}this help\n/);
    expect(r.stderr).toBe('');
  });

  it('prints the help and exits 2 when no command is given', async () => {
    const r = await run(releaseCommand, []);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Usage: npm run release -- /);
  });

  it.each([
    [['verify', 'rel', '--fast'], '--fast: no such option (see npm run release -- --help)'],
    [['verify', 'rel', '--timeout', '30'], '--timeout: "30" has no unit (e.g. --timeout 90s, 45m or 1h30m; see npm run release -- --help)'],
    [['verify', 'rel', '--timeout', 'later'], '--timeout: "later" is not a duration (e.g. --timeout 90s, 45m or 1h30m; see npm run release -- --help)'],
    [['assemble', '--out', 'r', '--from', 'a', '--source-date-epoch', '1.5'],
      '--source-date-epoch: "1.5" is not whole seconds since 1970 (e.g. --source-date-epoch 1700000000; see npm run release -- --help)'],
    [['keygen', '--out'], '--out: needs a value (e.g. --out DIR; see npm run release -- --help)'],
    [['keygen'], 'keygen needs --out DIR (see npm run release -- --help)'],
    [['verify'], 'verify takes one release directory or URL (see npm run release -- --help)'],
    [['publish'], 'unknown command "publish" (see npm run release -- --help)'],
  ])('refuses %j with one line on stderr and exit status 2', async (args, line) => {
    const r = await run(releaseCommand, args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `edk2-matrix: ${line}\n` });
  });

  it('takes --trust twice and checks against both', async () => {
    const dir = tempDir('release-cli-');
    const signing = generateKey();
    vi.stubEnv(KEY_ENV, formatSecretKey(signing));
    const a = otherPublicKey(dir, 'a.pub');
    const b = otherPublicKey(dir, 'b.pub');
    const r = await run(releaseCommand, ['check-signing', '--trust', a, '--trust', b]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^edk2-matrix: the signing key ${keyIdHex(signing.keyId)} in \\$${KEY_ENV} is not in ${a}, ${b}: `));
  });
});

describe('npm run pull, from arguments to exit status', () => {
  it('prints --help from the declarations, the destinations under their own heading', async () => {
    const r = await run(pullCommand, ['-h']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run pull -- <release URL or directory> \[options\]\n {7}npm run pull -- --check \[options\]\n {7}npm run pull -- uninstall \[options\]\n/);
    expect(r.stdout).toContain('  --timeout TIME     give up on a server that sends nothing for this long: 30s, 2m (default: 30s)\n');
    expect(r.stdout).toMatch(/\nWhere \(see docs\/downstream.md\):\n {2}--user {13}files in /);
    expect(r.stdout).toMatch(/\n {2}--destdir DIR {6}a package build/);
    expect(r.stderr).toBe('');
  });

  it.each([
    [['rel', '--fast'], '--fast: no such option (see npm run pull -- --help)'],
    [['rel', '--timeout', '30'], '--timeout: "30" has no unit (e.g. --timeout 90s, 45m or 1h30m; see npm run pull -- --help)'],
    [['rel', '--timeout', '0s'], '--timeout: "0s" is not longer than nothing (e.g. --timeout 90s, 45m or 1h30m; see npm run pull -- --help)'],
    [['rel', '--dry-run=yes'], '--dry-run: takes no value (given "yes") (see npm run pull -- --help)'],
    [['--user'], 'give one release URL or directory (see npm run pull -- --help)'],
    [['--user', '--check', 'rel'], '--check takes no release (see npm run pull -- --help)'],
  ])('refuses %j with one line on stderr and exit status 2', async (args, line) => {
    const r = await run(pullCommand, args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `edk2-matrix: ${line}\n` });
  });

  it('takes --trust twice and reads both, in order', async () => {
    const dir = tempDir('pull-cli-');
    const good = otherPublicKey(dir, 'good.pub');
    const missing = [join(dir, 'first.pub'), join(dir, 'second.pub')];
    const args = ['--destdir', join(dir, 'dest'), '--dry-run', join(dir, 'release')];
    // Both missing: the first is named, so it was not replaced by the second.
    const both = await run(pullCommand, [...args, '--trust', missing[0]!, '--trust', missing[1]!]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(new RegExp(`^edk2-matrix: trust: cannot read ${missing[0]}`));
    // The first readable: the second is named, so it was read too.
    const second = await run(pullCommand, [...args, '--trust', good, '--trust', missing[1]!]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`^edk2-matrix: trust: cannot read ${missing[1]}`));
  });
});
