/**
 * Numbers in the environment, on Node and on the edge: only plain decimals are taken. `Number()`
 * alone read `0x10` as 16, `1e3` as 1000 and `" 5 "` as 5, so a typo could start a relay with a
 * limit nobody meant; each is now refused with a message naming the variable.
 */
import { describe, expect, it } from "vitest";
import { decimalNumber } from "../../party/core/limits.ts";
import { edgeConfig } from "../../party/edge/config.ts";
import { ConfigError, optionsFromEnv } from "../../party/node/config.ts";

const NOT_DECIMAL = ["0x10", "1e3", " 5 ", "5 ", "+5", "-5", "Infinity", "5.", "1_000", "٥"];

describe("decimalNumber", () => {
  it.each([
    ["5", 5],
    ["0.5", 0.5],
    [".5", 0.5],
    ["1500", 1500],
    ["007", 7],
  ])("reads %s as %d", (raw, value) => {
    expect(decimalNumber(raw)).toBe(value);
  });

  it.each(NOT_DECIMAL)("refuses %j", (raw) => {
    expect(decimalNumber(raw)).toBeNaN();
  });
});

describe("Node: optionsFromEnv", () => {
  it.each(NOT_DECIMAL)(
    "PARLEY_SEND_BURST=%j stops the start naming the variable and the value",
    async (raw) => {
      const start = optionsFromEnv({ PARLEY_SEND_BURST: raw });
      await expect(start).rejects.toThrow(ConfigError);
      await expect(optionsFromEnv({ PARLEY_SEND_BURST: raw })).rejects.toThrow(
        `PARLEY_SEND_BURST must be a positive number, got "${raw}"`,
      );
    },
  );

  it.each(["0x1f90", "8e3", " 8080"])("PORT=%j stops the start", async (raw) => {
    await expect(optionsFromEnv({ PORT: raw })).rejects.toThrow(/PORT must be a port number/);
  });

  it("plain numbers are taken as written", async () => {
    const options = await optionsFromEnv({ PORT: "8080", PARLEY_SEND_RATE: "0.5", PARLEY_SEND_BURST: "3" });
    expect(options.port).toBe(8080);
    expect(options.limits).toMatchObject({ sendRate: 0.5, sendBurst: 3 });
  });
});

describe("edge: edgeConfig", () => {
  const base = {
    PARLEY_SECRET: "s".repeat(40),
    PARLEY_SERVER_KEY: "k".repeat(40),
    PARLEY_DB_URL: "http://127.0.0.1:9",
  };

  it.each(NOT_DECIMAL)("PARLEY_SEND_BURST=%j is refused with a message naming it", (raw) => {
    expect(() => edgeConfig({ ...base, PARLEY_SEND_BURST: raw })).toThrow(
      `parley (edge): PARLEY_SEND_BURST must be a positive number, got "${raw}"`,
    );
  });

  it.each(["0x3e8", "1e4", " 5000"])("PARLEY_DB_TIMEOUT_MS=%j is refused", (raw) => {
    expect(() => edgeConfig({ ...base, PARLEY_DB_TIMEOUT_MS: raw })).toThrow(/PARLEY_DB_TIMEOUT_MS must be/);
  });
});
