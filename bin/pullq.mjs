#!/usr/bin/env node
// The `pullq` command. In a source checkout it runs src/cli/main.ts directly (Node 24 strips
// types); in an installed package it runs the compiled dist/cli/main.js.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runWithNode24 } from '../scripts/node24.mjs';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const entry = existsSync(source) ? source : built;
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import(entry);
} else {
  runWithNode24([entry, ...process.argv.slice(2)]);
}
