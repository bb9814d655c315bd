// Copies the non-TypeScript files that the compiled package reads at run time
// (SQL migrations) from src/ to dist/.
import { cpSync } from 'node:fs';

cpSync('src/backends/sqlite/migrations', 'dist/backends/sqlite/migrations', { recursive: true });
