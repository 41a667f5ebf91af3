/**
 * `parley/react` without a browser: the store contract the hooks rely on (one acquire however
 * many subscribers, a release that survives StrictMode's unsubscribe-and-subscribe, snapshots
 * cached until something changes, one notification per tick), the package export, and the
 * READMEs' snippet, which must be the type-checked `examples/react/readme-snippet.tsx`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ExternalStore } from "../../client/react/external-store.ts";
import { repoRoot } from "../helpers/server.ts";

class Counter extends ExternalStore<{ value: number }> {
  acquired = 0;
  released = 0;
  value = 0;
  bump(): void {
    this.value++;
    this.changed();
  }
  protected override acquire(): void {
    this.acquired++;
  }
  protected override release(): void {
    this.released++;
  }
  protected override build() {
    return { value: this.value };
  }
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("the hooks' store contract", () => {
  it("acquires once for many subscribers and releases after the last, a tick later", async () => {
    const store = new Counter();
    const offA = store.subscribe(() => undefined);
    const offB = store.subscribe(() => undefined);
    expect(store.acquired).toBe(1);
    offA();
    await tick();
    expect(store.released).toBe(0);
    offB();
    expect(store.released).toBe(0);
    await tick();
    expect(store.released).toBe(1);
    // Subscribed again: opened again.
    const offC = store.subscribe(() => undefined);
    expect(store.acquired).toBe(2);
    offC();
    await tick();
    expect(store.released).toBe(2);
  });

  it("keeps the object open across StrictMode's unsubscribe and subscribe in one tick", async () => {
    const store = new Counter();
    const off = store.subscribe(() => undefined);
    off();
    const again = store.subscribe(() => undefined);
    await tick();
    expect([store.acquired, store.released]).toEqual([1, 0]);
    again();
    await tick();
    expect(store.released).toBe(1);
  });

  it("returns the same snapshot until a change, and notifies once per tick", async () => {
    const store = new Counter();
    let calls = 0;
    const off = store.subscribe(() => calls++);
    await tick();
    calls = 0;
    const first = store.getSnapshot();
    expect(store.getSnapshot()).toBe(first);
    for (let i = 0; i < 100; i++) store.bump();
    // Read before the notification: already the new state (no torn render).
    expect(store.getSnapshot().value).toBe(100);
    await tick();
    expect(calls).toBe(1);
    expect(store.getSnapshot()).not.toBe(first);
    expect(store.getSnapshot()).toBe(store.getSnapshot());
    off();
  });
});

describe("package and docs", () => {
  const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");

  it("exports parley/react with react as an optional peer", () => {
    const pkg = JSON.parse(read("package.json"));
    expect(pkg.exports["./react"]).toEqual({
      types: "./dist/client/react/index.d.ts",
      default: "./dist/client/react/index.js",
    });
    expect(pkg.peerDependencies.react).toBeDefined();
    expect(pkg.peerDependenciesMeta.react.optional).toBe(true);
    for (const name of ["react", "react-dom", "@types/react", "@types/react-dom"]) {
      expect(pkg.devDependencies[name], name).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("README.md and client/README.md show the snippet that tsc checks", () => {
    const snippet = read("examples/react/readme-snippet.tsx").replace(
      '"../../client/react/index.ts"',
      '"parley/react"',
    );
    expect(snippet).toContain('from "parley/react"');
    for (const file of ["README.md", "client/README.md"]) {
      expect(read(file), file).toContain(`\`\`\`tsx\n${snippet}\`\`\``);
    }
  });
});
