import { Command, CommanderError } from 'commander';
import { exitCodeFor, isScoreError } from '../errors/errors.ts';
import { registerDemo } from './commands/demo.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerAgent } from './commands/agent.ts';
import { registerEmulate } from './commands/emulate.ts';
import { registerController } from './commands/controller.ts';
import { registerReport } from './commands/report.ts';
import { registerCredentials } from './commands/credentials.ts';
import { registerImage } from './commands/image.ts';

/** Composition root of the `score` command: each command registers itself from its own module. */
const program = new Command()
  .name('score')
  .description('S-CORE: SDN-orchestrated, network-aware live VM migration')
  .exitOverride()
  .showHelpAfterError();

registerDemo(program);
registerSimulate(program);
registerAgent(program);
registerEmulate(program);
registerController(program);
registerReport(program);
registerCredentials(program);
registerImage(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
  } else if (isScoreError(e)) {
    console.error(`score: error ${e.code}: ${e.message}`);
    process.exitCode = exitCodeFor(e.code);
  } else {
    console.error(e);
    process.exitCode = 1;
  }
}
