import { readFileSync } from 'node:fs';
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

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * Composition root of the `score` command: each command registers itself from its own module.
 * Commander's own errors (unknown option or command, missing argument) print like every other
 * bad input, `score: error CLI_USAGE: ...`, and exit 2; subcommands inherit this output.
 */
const program = new Command()
  .name('score')
  .description('S-CORE: SDN-orchestrated, network-aware live VM migration')
  .version(version)
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(`score: error CLI_USAGE: ${str.replace(/^error: /, '')}`) })
  .showHelpAfterError('(add --help for usage)');

registerDemo(program);
registerSimulate(program);
registerAgent(program);
registerEmulate(program);
registerController(program);
registerReport(program);
registerCredentials(program);
registerImage(program);

/**
 * Why Commander printed help as an error: `score help NAME` with a NAME that is no command, or a
 * command that needs a subcommand and got none (`score`, `score credentials`).
 */
function missingCommandMessage(args: readonly string[]): string {
  const [first, second] = args;
  // Commander's own help command is not in program.commands
  if (first === 'help' && second === 'help') return "'score help COMMAND' shows a command's help (the list is above)";
  if (first === 'help' && second !== undefined && !program.commands.some((c) => c.name() === second || c.aliases().includes(second))) {
    return `unknown command '${second}' (the list is above)`;
  }
  return 'a command is required (the list is above)';
}

/**
 * A reader that went away (`score ... | head -1`) closes the pipe: Node reports EPIPE as an 'error'
 * event, unhandled a stack trace and exit 1. Here the rest of that stream's output is dropped and
 * the command ends as it would have, with its own exit status (0 when it succeeded): its files
 * are still written whole, and a long-running command (emulate, demo, controller) is not cut off
 * before it takes its namespaces, bridges and agents down. Any other write error stays fatal.
 */
function dropOutputWhenReaderGone(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
dropOutputWhenReaderGone(process.stdout);
dropOutputWhenReaderGone(process.stderr);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help and --version end with 0; everything else Commander throws is a bad command line.
    // A command that needs a subcommand and got none (`score`, `score credentials`) gets its help
    // on stderr from Commander, then the same error line as every other bad input.
    if (e.exitCode !== 0 && e.code === 'commander.help') console.error(`score: error CLI_USAGE: ${missingCommandMessage(process.argv.slice(2))}`);
    process.exitCode = e.exitCode === 0 ? 0 : exitCodeFor('CLI_USAGE');
  } else if (isScoreError(e)) {
    console.error(`score: error ${e.code}: ${e.message}`);
    process.exitCode = exitCodeFor(e.code);
  } else {
    console.error(e);
    process.exitCode = 1;
  }
}
