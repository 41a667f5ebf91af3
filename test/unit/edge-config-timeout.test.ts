/** The edge configuration's bound on libSQL calls (PARLEY_DB_TIMEOUT_MS): a clear error when it is not a usable number. */
import { describe, expect, it } from "vitest";
import { edgeConfig } from "../../party/edge/config.ts";

const base = {
  PARLEY_SECRET: "s".repeat(40),
  PARLEY_SERVER_KEY: "k".repeat(40),
  PARLEY_DB_URL: "http://127.0.0.1:9",
};

describe("PARLEY_DB_TIMEOUT_MS", () => {
  it.each(["abc", "0", "99", "1.5", "600001"])("refuses %s with a message that names it", (raw) => {
    expect(() => edgeConfig({ ...base, PARLEY_DB_TIMEOUT_MS: raw })).toThrow(
      /PARLEY_DB_TIMEOUT_MS must be a whole number of ms from 100 to 600000/,
    );
  });
});
