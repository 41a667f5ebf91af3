import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start real servers and child processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    // Empties test-artifacts/logs/, and after the run fails it if a relay logged a credential.
    globalSetup: ["test/log-secrets.setup.ts"],
    // Fails a contract test whose answers the OpenAPI document does not allow.
    setupFiles: ["test/answer-check.setup.ts"],
  },
});
