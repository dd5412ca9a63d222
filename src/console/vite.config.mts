import path from 'node:path';
import { defineConfig } from 'vite';

/**
 * The admin console, built into dist/console and served by the function app under /api/console/.
 * `base: './'` keeps asset URLs relative, so the same build works behind any host prefix.
 */
const here = path.dirname(new URL(import.meta.url).pathname);

export default defineConfig({
  root: here,
  base: './',
  // The wizard's live previews run the product's own sharding and schedule code; its one
  // node import (sha256 for identities) gets a small browser implementation.
  resolve: { alias: { 'node:crypto': path.join(here, 'app/sha256.ts') } },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: path.resolve(here, '../../dist/console'), emptyOutDir: true, sourcemap: false },
  logLevel: 'warn',
});
