/** PARLEY_ALLOWED_ORIGINS: entries are checked and written the way browsers send Origin. */
import { describe, expect, it } from "vitest";
import { normaliseOrigins, originAllowed } from "../../party/host/origins.ts";

describe("allowed origins", () => {
  it("writes entries the way browsers send Origin", () => {
    expect(
      normaliseOrigins([
        " https://App.Example.com/ ",
        "http://localhost:3000",
        "https://a.example.com:443",
        "",
        "*",
      ]),
    ).toEqual(["https://app.example.com", "http://localhost:3000", "https://a.example.com", "*"]);
  });

  it("a trailing slash in the setting still lets the browser's origin in", () => {
    const policy = { allowed: normaliseOrigins(["https://app.example.com/"]), allowLocalhost: false };
    expect(originAllowed("https://app.example.com", policy)).toBe(true);
    expect(originAllowed("https://evil.example.com", policy)).toBe(false);
  });

  it("refuses what is not an origin, naming it", () => {
    for (const bad of [
      "not-an-origin",
      "app.example.com",
      "ftp://files.example.com",
      "https://app.example.com/path",
      "https://app.example.com/?x=1",
      "https://app.example.com#top",
      "https://user@app.example.com",
    ]) {
      expect(() => normaliseOrigins([bad]), bad).toThrow(`"${bad}" is not an origin`);
    }
  });
});

describe("the relay's own origin", () => {
  const production = { allowed: ["https://app.example.com"], allowLocalhost: false };
  const devDefault = { allowed: [], allowLocalhost: true };

  it("a page served from the relay's own host and port passes", () => {
    expect(originAllowed("http://chat.internal:8787", production, "chat.internal:8787")).toBe(true);
    expect(originAllowed("http://chat.internal:8787", production, "chat.internal:9999")).toBe(false);
    expect(originAllowed("https://evil.example.net", production, "chat.internal:8787")).toBe(false);
  });

  it("not in dev mode's localhost default, where a rebound DNS name would look same-host", () => {
    expect(originAllowed("http://rebound.evil.test:8787", devDefault, "rebound.evil.test:8787")).toBe(false);
    expect(originAllowed("http://localhost:5173", devDefault, "127.0.0.1:8787")).toBe(true);
  });
});
