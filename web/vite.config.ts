import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built into web/dist and served by the management API (src/api/ui.ts) at its own origin,
// so the admin cookie (SameSite=Strict, HttpOnly) and the API share one origin.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), tailwindcss()],
  // The UI validates with the model's own schemas (src/model); their Node imports get shims.
  resolve: {
    alias: {
      'node:net': new URL('./src/shims/net.ts', import.meta.url).pathname,
      'node:path': new URL('./src/shims/path.ts', import.meta.url).pathname,
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets' },
  server: {
    // `npx vite web` during development: the API on its default address.
    proxy: { '/api': { target: process.env.GATEHOUSE_API ?? 'http://127.0.0.1:7070', changeOrigin: false } },
  },
});
