/** The `pullq` command line: one subcommand per file in this folder. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ackCommand } from './ack.ts';
import { reportError } from './errors.ts';
import { leaseCommand } from './lease.ts';
import { listCommand } from './list.ts';
import { loginCommand } from './login.ts';
import { migrateCommand } from './migrate.ts';
import { putCommand } from './put.ts';
import { queueCommand } from './queue.ts';
import { redriveCommand } from './redrive.ts';
import { serveCommand } from './serve.ts';
import { statsCommand } from './stats.ts';
import { tokenCommand } from './token.ts';
import { workerCommand } from './worker.ts';

export function buildProgram(): Command {
  const program = new Command('pullq')
    .description('a pull task queue: run a server, put tasks, lease and ack them')
    .version(packageVersion())
    .addCommand(serveCommand())
    .addCommand(putCommand())
    .addCommand(leaseCommand())
    .addCommand(ackCommand())
    .addCommand(listCommand())
    .addCommand(statsCommand())
    .addCommand(queueCommand())
    .addCommand(redriveCommand())
    .addCommand(tokenCommand())
    .addCommand(loginCommand())
    .addCommand(workerCommand())
    .addCommand(migrateCommand());
  exitOverrideAll(program);
  return program;
}

/** From package.json, two folders up both in src/cli and in dist/cli. */
function packageVersion(): string {
  const path = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

/** Usage errors exit 2 (commander's own default is 1, the code of a failed command). */
function exitOverrideAll(command: Command): void {
  command.exitOverride().showHelpAfterError(`hint: see \`${usagePath(command)} --help\``);
  for (const sub of command.commands) exitOverrideAll(sub);
}

function usagePath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current; current = current.parent) {
    names.unshift(current.name());
  }
  return names.join(' ');
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return reportError(error, {});
  }
}

// A reader that goes away (`pullq list q | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
