// Copies the non-TypeScript files that the compiled package reads at run time
// (SQL migrations) from src/ to dist/.
import { cpSync } from 'node:fs';

for (const backend of ['sqlite', 'postgres']) {
  cpSync(`src/backends/${backend}/migrations`, `dist/backends/${backend}/migrations`, {
    recursive: true,
  });
}
