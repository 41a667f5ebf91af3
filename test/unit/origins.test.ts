/** PARLEY_ALLOWED_ORIGINS: entries are checked and written the way browsers send Origin. */
import { describe, expect, it } from "vitest";
import { normaliseOrigins, originAllowed } from "../../api/origins.ts";

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
