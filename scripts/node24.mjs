#!/usr/bin/env node
// Runs Node.js 24 with the given arguments. pullq needs Node 24 (node:sqlite, type stripping);
// when the running Node is older, the official Node 24 binary is installed once from the npm
// registry (the `node` package) into a cache folder and used instead. Plain JavaScript so that
// any Node can start it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const REQUIRED_MAJOR = 24;

function node24Binary() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= REQUIRED_MAJOR) return process.execPath;
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pullq-node24');
  const bin = join(cache, 'node_modules', '.bin', 'node');
  if (!existsSync(bin)) {
    process.stderr.write(
      `pullq needs Node.js ${REQUIRED_MAJOR}+, this is ${process.version}: ` +
        `installing node@${REQUIRED_MAJOR} from the npm registry into ${cache} (once)...\n`,
    );
    mkdirSync(cache, { recursive: true });
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    execFileSync(
      npm,
      [
        'install',
        '--prefix',
        cache,
        '--no-audit',
        '--no-fund',
        '--silent',
        `node@${REQUIRED_MAJOR}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return bin;
}

export function runWithNode24(args) {
  const child = spawn(node24Binary(), args, { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWithNode24(process.argv.slice(2));
}
