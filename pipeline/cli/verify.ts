/** `npm run verify`: see verify-command.ts. */
import { runCommand } from './main.ts';
import { verifyCommand } from './verify-command.ts';

runCommand(verifyCommand);
