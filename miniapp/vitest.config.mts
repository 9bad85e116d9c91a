import { defineConfig } from 'vitest/config'

// Unit tests run the app's own logic without the uni plugin (which needs a platform to build for).
export default defineConfig({
  resolve: { alias: { '@': new URL('./src', import.meta.url).pathname } },
  define: { 'process.env.UNI_PLATFORM': JSON.stringify('h5') },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
})
