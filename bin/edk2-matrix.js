#!/usr/bin/env node
// edk2-matrix <command> [options]: the package's one entry point. From a clone, the
// repository's commands run the same code: npm run matrix|verify|release|pull|rebuild -- [options].
// The commands are TypeScript, run through tsx's loader, which is a dependency.
import { register } from 'tsx/esm/api';

const COMMANDS = {
  matrix: ['../pipeline/cli/matrix-command.ts', 'matrixCommand'],
  verify: ['../pipeline/cli/verify-command.ts', 'verifyCommand'],
  release: ['../pipeline/cli/release-command.ts', 'releaseCommand'],
  pull: ['../pipeline/cli/pull-command.ts', 'pullCommand'],
  rebuild: ['../pipeline/cli/rebuild-command.ts', 'rebuildCommand'],
};

const [name, ...args] = process.argv.slice(2);
if (name === 'uninstall') args.unshift('uninstall');
const command = COMMANDS[name === 'uninstall' ? 'pull' : name];
if (!command) {
  process.stderr.write(`usage: edk2-matrix <${[...Object.keys(COMMANDS), 'uninstall'].join('|')}> [options]  (each takes --help)\n`);
  process.exit(name === undefined || name === '--help' || name === '-h' ? 0 : 2);
}
register();
const { runCommand } = await import('../pipeline/cli/main.ts');
const module = await import(command[0]);
runCommand(module[command[1]], args);
