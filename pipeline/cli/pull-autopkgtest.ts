/** `npm run autopkgtest`: see pull-autopkgtest-command.ts. */
import { runCommand } from './main.ts';
import { autopkgtestCommand } from './pull-autopkgtest-command.ts';

runCommand(autopkgtestCommand);
