import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests build real firmware in a real engine: minutes, not seconds.
    testTimeout: 10_000,
    hookTimeout: 10_000,
    fileParallelism: false,
  },
});
