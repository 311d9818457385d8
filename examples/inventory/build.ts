import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The bundles the page needs, in memory. */
export interface InventoryBundles {
  /** The React app, an ES module (`/app.js`). */
  app: Uint8Array;
  /** The service worker, a classic script (`/sw.js`). */
  sw: Uint8Array;
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Bundles the page and the service worker with esbuild, in memory (nothing is written to disk).
 * @returns both bundles
 * @remarks The service worker is a classic script because module service workers are not
 * available in every browser this example targets.
 */
export async function buildInventoryBundles(): Promise<InventoryBundles> {
  const common = {
    bundle: true,
    write: false,
    logLevel: 'silent',
    target: 'es2022',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
  } as const;
  const [app, sw] = await Promise.all([
    build({
      ...common,
      entryPoints: [here('./client/main.tsx')],
      format: 'esm',
      jsx: 'automatic',
      minify: true,
    }),
    build({ ...common, entryPoints: [here('./sw.ts')], format: 'iife' }),
  ]);
  const appFile = app.outputFiles[0];
  const swFile = sw.outputFiles[0];
  if (!appFile || !swFile) throw new Error('esbuild produced no output');
  return { app: appFile.contents, sw: swFile.contents };
}
