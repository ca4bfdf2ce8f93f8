/** `npm run release`: see release-command.ts. */
import { runCommand } from './main.ts';
import { releaseCommand } from './release-command.ts';

runCommand(releaseCommand);
