/**
 * The house rules of ARCHITECTURE.md, enforced: which part may import what, and no import cycles.
 * Imports are read with TypeScript's own pre-processor (type-only imports count too: a type
 * cycle is still a knot a reader must untangle). Breaking a rule fails `npm test`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/server.ts";

const SOURCE_DIRS = ["protocol", "party", "api", "client", "store", "bin", "server"];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(repoRoot, dir))) {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(repoRoot, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

const files = [...SOURCE_DIRS.flatMap(sourceFiles), "index.ts"];

/** Every import specifier of a file: relative ones resolved to repo paths, packages as written. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(path.join(repoRoot, file), "utf8");
  const info = ts.preProcessFile(text, true, true);
  const local: string[] = [];
  const packages: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (fileName.startsWith("."))
      local.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName)));
    else packages.push(fileName);
  }
  return { local, packages };
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));
const packageName = (spec: string) =>
  spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] as string);

interface Rule {
  /** Files this rule governs (path prefix). */
  part: string;
  /** Repo folders (prefixes) it may import from; its own folder always. */
  mayImport: string[];
  /** Packages it may import (`node:*` only if listed as "node:"). */
  packages: string[];
  /** Parts under `part` that have a rule of their own. */
  except?: string[];
}

/** The widget bundle as text, written by `npm run build:widget` (bin/build-widget.ts). */
const WIDGET_TEXT = "dist/edge/widget.js.txt";

const RULES: Rule[] = [
  // The back-end helper (`parley/server`): fetch and WebCrypto only. Its types come from the
  // API's zod schemas (type-only imports), its webhook check is the one `parley/webhooks` exports.
  {
    part: "server/",
    // party/host/profiles.ts: the profile update's schema, for its type only.
    mayImport: ["protocol/", "party/core/validation.ts", "party/host/profiles.ts", "api/", "webhooks.ts"],
    packages: ["jose", "zod"],
  },
  { part: "protocol/", mayImport: [], packages: [] },
  { part: "party/core/", mayImport: ["protocol/"], packages: ["zod"] },
  { part: "party/host/", mayImport: ["protocol/", "party/core/"], packages: ["zod", "jose"] },
  // The SDK and the widget: no React (the widget's bundle must not grow by a framework).
  { part: "client/", mayImport: ["protocol/"], packages: ["partysocket"], except: ["client/react/"] },
  // The React bindings: the SDK and React, nothing of the server.
  { part: "client/react/", mayImport: ["client/", "protocol/"], packages: ["react"] },
  // zod-openapi renders the API's zod schemas as the OpenAPI document (pure JS, web-standard).
  {
    part: "api/",
    mayImport: ["protocol/", "party/core/", "party/host/"],
    packages: ["hono", "zod", "zod-openapi"],
  },
  // The workerd seam shared by the two workerd adapters: no Node, no other adapter (the API is
  // web-standard, so the seam builds it once for both shells).
  {
    part: "party/edge/",
    mayImport: [
      "protocol/",
      "party/core/",
      "party/host/",
      "api/",
      "store/open-web.ts",
      "store/libsql-store.ts",
    ],
    packages: ["@libsql/client"],
  },
  // The two shells also import the built widget as text (no code: a string for `/widget.js`).
  {
    part: "party/cloudflare/",
    mayImport: ["protocol/", "party/core/", "party/host/", "party/edge/", "api/", WIDGET_TEXT],
    packages: ["partyserver"],
  },
  {
    part: "party/partykit/",
    mayImport: ["protocol/", "party/core/", "party/host/", "party/edge/", "api/", WIDGET_TEXT],
    packages: ["partykit"],
  },
  {
    part: "party/node/",
    mayImport: ["protocol/", "party/core/", "party/host/", "api/", "store/"],
    // prom-client: the metrics registry (Node and Deno only; the core reports through a seam); pino: the structured logs;
    // undici: the webhook transport's HTTP client.
    packages: ["node:", "ws", "@hono/node-server", "zod", "esbuild", "prom-client", "pino", "undici"],
  },
];

function violations(rule: Rule): string[] {
  const found: string[] = [];
  for (const [file, { local, packages }] of graph) {
    if (!file.startsWith(rule.part) || rule.except?.some((p) => file.startsWith(p))) continue;
    for (const target of local) {
      const allowed = target.startsWith(rule.part) || rule.mayImport.some((p) => target.startsWith(p));
      if (!allowed) found.push(`${file} imports ${target}`);
    }
    for (const spec of packages) {
      const name = packageName(spec);
      const allowed = rule.packages.some((p) => (p === "node:" ? spec.startsWith("node:") : p === name));
      if (!allowed) found.push(`${file} imports the package ${spec}`);
    }
  }
  return found;
}

/** Every import cycle among source files (Tarjan's strongly connected components). */
function cycles(): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (file: string) => {
    indexOf.set(file, index);
    low.set(file, index);
    index++;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file)?.local ?? []) {
      if (!graph.has(next)) continue;
      if (!indexOf.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) as number, indexOf.get(next) as number));
      }
    }
    if (low.get(file) === indexOf.get(file)) {
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
        onStack.delete(member);
        component.push(member);
        if (member === file) break;
      }
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!indexOf.has(file)) visit(file);
  return found;
}

describe("import rules (ARCHITECTURE.md)", () => {
  it("reads the imports it checks", () => {
    // The check cannot pass by reading nothing: the room imports its parts.
    expect(graph.get("party/core/conversation-room.ts")?.local).toContain(
      "party/core/room/commit-pipeline.ts",
    );
    expect(graph.get("party/node/websocket-gateway.ts")?.packages).toContain("ws");
    expect(files.length).toBeGreaterThan(80);
  });

  for (const rule of RULES) {
    it(`${rule.part} imports only ${[...rule.mayImport, ...rule.packages].join(", ") || "itself"}`, () => {
      expect(violations(rule)).toEqual([]);
    });
  }

  it("nothing outside client/react/ imports it (the widget and the SDK stay React-free)", () => {
    const found: string[] = [];
    for (const [file, { local }] of graph) {
      if (file.startsWith("client/react/")) continue;
      for (const target of local)
        if (target.startsWith("client/react/")) found.push(`${file} imports ${target}`);
    }
    expect(found).toEqual([]);
    expect(graph.get("client/react/index.ts")?.local).toContain("client/react/provider.ts");
  });

  it("no import cycles in the source tree", () => {
    expect(cycles()).toEqual([]);
  });
});
