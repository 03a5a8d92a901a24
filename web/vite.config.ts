/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// In development (`npm run dev`) the API and the collab WebSockets come from a running local
// stack (`./mrbill up`), so the app always talks to one origin, as in production.
const stack = process.env.MRBILL_ENTRY ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': stack,
      '/collab': { target: stack.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: { sourcemap: true, chunkSizeWarningLimit: 1500 },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
    testTimeout: 30_000, // room for the 5 s waits of src/test-setup.ts on a busy machine
  },
});
