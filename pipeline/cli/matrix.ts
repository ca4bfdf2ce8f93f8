/** `npm run matrix`: see matrix-command.ts. */
import { matrixCommand } from './matrix-command.ts';
import { runCommand } from './main.ts';

runCommand(matrixCommand);
