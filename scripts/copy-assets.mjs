// Copies the non-TypeScript files that the compiled package reads at run time (SQL
// migrations, the dashboard's HTML, CSS and icon; tsc emits its scripts) from src/ to dist/.
import { cpSync } from 'node:fs';

for (const backend of ['sqlite', 'postgres']) {
  cpSync(`src/backends/${backend}/migrations`, `dist/backends/${backend}/migrations`, {
    recursive: true,
  });
}
cpSync('src/server/dashboard/static', 'dist/server/dashboard/static', {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
