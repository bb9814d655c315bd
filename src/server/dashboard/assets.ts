/**
 * The dashboard's files, read once into memory: the page (`index.html`, a template), its
 * modules, styles and icon from `./static/`, and uPlot from its installed package.
 *
 * The folder is found next to this module, so the same code serves a source checkout
 * (src/server/dashboard/static: `.ts` modules, transpiled here on first use with the
 * `typescript` dev dependency) and the built package (dist/server/dashboard/static: the `.js`
 * tsc emitted, plus the files scripts/copy-assets.mjs copies). Declarations and source maps
 * are never served.
 *
 * Every asset URL carries a build id (a hash of every file), so assets can be cached forever
 * and a new version is fetched the moment the page changes. Only the files listed here can be
 * served: a request is a lookup in this map, never a path on disk, so no `..` can escape.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PullqError } from '../../protocol/errors.ts';

export interface Asset {
  body: Buffer;
  contentType: string;
}

export interface DashboardAssets {
  /** A hash of every asset: the path segment that makes asset URLs cacheable forever. */
  build: string;
  /** The page, with the build id filled in. */
  indexHtml: Buffer;
  /** The page's Content-Security-Policy (it allows the page's import map by its hash). */
  contentSecurityPolicy: string;
  /** By path under `/ui/assets/<build>/`: `main.js`, `vendor/uplot.js`. */
  files: ReadonlyMap<string, Asset>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The folder next to this module, in src/ and in dist/ alike. */
export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const BUILD_MARK = /%BUILD%/g;
const IMPORT_MAP = /<script type="importmap">([\s\S]*?)<\/script>/;

const loaded = new Map<string, Promise<DashboardAssets>>();

/** The assets of `dir`, read on first use and kept for the life of the process. */
export function dashboardAssets(dir: string = STATIC_DIR): Promise<DashboardAssets> {
  let assets = loaded.get(dir);
  if (!assets) {
    assets = loadAssets(dir);
    // A failed read (a missing folder) is tried again on the next request.
    assets.catch(() => loaded.delete(dir));
    loaded.set(dir, assets);
  }
  return assets;
}

async function loadAssets(dir: string): Promise<DashboardAssets> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'));
  const present = new Set(names);
  const files = new Map<string, Asset>();
  let template: string | undefined;
  for (const name of names.sort()) {
    if (name === 'index.html') {
      template = await readFile(join(dir, name), 'utf8');
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      const servedAs = `${name.slice(0, -3)}.js`;
      // A built folder has the emitted .js; sources are transpiled only where there is none.
      if (present.has(servedAs)) continue;
      const source = await readFile(join(dir, name), 'utf8');
      files.set(servedAs, asset('.js', await transpile(source, name)));
    } else {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType) files.set(name, { body: await readFile(join(dir, name)), contentType });
    }
  }
  if (template === undefined) {
    throw new PullqError('internal', `the dashboard's index.html is missing from ${dir}`);
  }
  const require = createRequire(import.meta.url);
  files.set(
    'vendor/uplot.js',
    asset('.js', await readFile(require.resolve('uplot/dist/uPlot.esm.js'))),
  );
  files.set(
    'vendor/uplot.css',
    asset('.css', await readFile(require.resolve('uplot/dist/uPlot.min.css'))),
  );

  const hash = createHash('sha256');
  for (const [name, file] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(name).update('\0').update(file.body).update('\0');
  }
  hash.update(template);
  const build = hash.digest('hex').slice(0, 12);
  const html = template.replace(BUILD_MARK, build);
  return {
    build,
    indexHtml: Buffer.from(html),
    contentSecurityPolicy: contentSecurityPolicy(IMPORT_MAP.exec(html)?.[1]),
    files,
  };
}

function asset(extension: string, body: Buffer | string): Asset {
  return { body: Buffer.from(body), contentType: CONTENT_TYPES[extension] ?? 'text/plain' };
}

/**
 * Scripts and styles from the server only: no inline script but the import map (allowed by
 * its hash), no framing (clickjacking), no form posts, API calls to this origin only.
 */
function contentSecurityPolicy(importMap: string | undefined): string {
  const scripts = ["'self'"];
  if (importMap !== undefined) {
    scripts.push(`'sha256-${createHash('sha256').update(importMap).digest('base64')}'`);
  }
  return [
    "default-src 'none'",
    `script-src ${scripts.join(' ')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * TypeScript to browser JavaScript, in a source checkout only. The transpiler is loaded on the
 * first request for the page (about half a second), never at import time.
 */
async function transpile(source: string, name: string): Promise<string> {
  let ts;
  try {
    ts = (await import('typescript')).default;
  } catch (error) {
    throw new PullqError(
      'unavailable',
      'serving the dashboard from a source checkout needs the typescript package (a dev dependency): run npm install, or serve the built package (npm run build)',
      { cause: error },
    );
  }
  const output = ts.transpileModule(source, {
    fileName: name,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      rewriteRelativeImportExtensions: true,
      verbatimModuleSyntax: true,
    },
  });
  return output.outputText;
}
