/** `npm run rebuild`: see rebuild-command.ts. */
import { runCommand } from './main.ts';
import { rebuildCommand } from './rebuild-command.ts';

runCommand(rebuildCommand);
