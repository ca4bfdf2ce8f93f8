/** `npm run pull`: see pull-command.ts. */
import { runCommand } from './main.ts';
import { pullCommand } from './pull-command.ts';

runCommand(pullCommand);
