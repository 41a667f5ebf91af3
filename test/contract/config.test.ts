/** Configuration: production mode (secrets required, no dev endpoints) and browser origin checks. */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, mintToken, WsClient } from "../helpers/clients.ts";
import { type ServerHandle, startServer } from "../helpers/server.ts";
import { eventually, sleep, uid } from "../helpers/world.ts";

const ALLOWED = "https://app.example.com";
let prod: ServerHandle;
let dev: ServerHandle;
const sockets: WsClient[] = [];

beforeAll(async () => {
  [prod, dev] = await Promise.all([
    startServer({
      env: { NODE_ENV: "production", PARLEY_ALLOWED_ORIGINS: `${ALLOWED},https://other.example.com` },
    }),
    startServer(),
  ]);
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await Promise.all([prod?.dispose(), dev?.dispose()]);
});

async function conversation(s: ServerHandle, members: string[]): Promise<string> {
  const id = uid("c");
  const res = await api(s.url, s.serverKey).post("/v1/conversations", { id, members });
  expect(res.status, res.text).toBe(201);
  return id;
}

/** Open a socket with an Origin header; resolves "synced" or the way it ended. */
async function trySocket(s: ServerHandle, conv: string, user: string, origin?: string): Promise<string> {
  const c = WsClient.connect(
    s.wsUrl,
    `/parties/conversation/${conv}`,
    { token: await mintToken(s.secret, user) },
    origin ? { origin } : undefined,
  );
  sockets.push(c);
  const ended = c.closed.then((i) => `closed ${i.code} (HTTP ${c.unexpectedStatus})`);
  const synced = c
    .waitFor((f) => f.type === "synced", 5000)
    .then(
      () => "synced",
      () => "no synced",
    );
  return Promise.race([synced, ended]);
}

describe("production mode", () => {
  it("refuses to start without PARLEY_SECRET and PARLEY_SERVER_KEY", async () => {
    await expect(
      startServer({ env: { NODE_ENV: "production" }, unset: ["PARLEY_SECRET", "PARLEY_SERVER_KEY"] }),
    ).rejects.toThrow(/exited early \(code [1-9]/);
    await expect(
      startServer({ env: { NODE_ENV: "production" }, unset: ["PARLEY_SERVER_KEY"] }),
    ).rejects.toThrow(/exited early \(code [1-9]/);
  });

  it("has no dev token endpoint, but works with its secrets", async () => {
    const res = await fetch(`${prod.url}/v1/dev/token?user=someone`);
    expect(res.status).toBe(404);
    const conv = await conversation(prod, ["prod-a"]);
    const a = api(prod.url, await mintToken(prod.secret, "prod-a"));
    expect((await a.get(`/v1/conversations/${conv}/messages`)).status).toBe(200);
  });
});

describe("allowed origins", () => {
  it("CORS: an allowed origin is echoed on a preflight; another origin is not", async () => {
    const pre = (origin: string) =>
      fetch(`${prod.url}/v1/conversations`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
    const ok = await pre(ALLOWED);
    expect(ok.status).toBeLessThan(300);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(ok.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const evil = await pre("https://evil.example.net");
    expect(evil.headers.get("access-control-allow-origin")).not.toBe("https://evil.example.net");
    expect(evil.headers.get("access-control-allow-origin")).not.toBe("*");
  });

  it("sockets: an allowed origin connects; another origin is refused", async () => {
    const conv = await conversation(prod, ["org-a"]);
    expect(await trySocket(prod, conv, "org-a", ALLOWED)).toBe("synced");
    const refused = await trySocket(prod, conv, "org-a", "https://evil.example.net");
    expect(refused).not.toBe("synced");
    await sleep(100);
  });

  it("HTTP: a foreign browser origin is refused with 403 (send and event stream); allowed or no Origin passes", async () => {
    const conv = await conversation(prod, ["horg-a"]);
    const token = await mintToken(prod.secret, "horg-a");
    const send = (key: string, origin?: string) =>
      fetch(`${prod.url}/v1/conversations/${conv}/messages`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          ...(origin ? { origin } : {}),
        },
        body: JSON.stringify({ clientMessageId: key, body: key }),
      });
    const foreign = await send("from-evil", "https://evil.example.net");
    expect(foreign.status).toBe(403);
    expect((await foreign.json()).error.code).toBe("forbidden");
    // The page cannot read that answer (no CORS headers): the relay's log line names the origin.
    const refusedLine = () =>
      prod
        .output()
        .split("\n")
        .some((l) => l.includes('"origin":"https://evil.example.net"') && l.includes('"status":403'));
    await eventually(async () => refusedLine() || undefined, 5_000);
    expect((await send("from-app", ALLOWED)).status).toBe(201);
    expect((await send("from-server")).status).toBe(201);
    const stream = await fetch(`${prod.url}/v1/conversations/${conv}/events?token=${token}`, {
      headers: { origin: "https://evil.example.net" },
    });
    expect(stream.status).toBe(403);
    await stream.body?.cancel();
    const history = await api(prod.url, token).get(`/v1/conversations/${conv}/messages`);
    expect(history.json.messages.map((m: { body: string }) => m.body)).toEqual(["from-app", "from-server"]);
    // The public widget bundle is outside the API: any page may load it.
    const widget = await fetch(`${prod.url}/widget.js`, { headers: { origin: "https://evil.example.net" } });
    expect(widget.status).toBe(200);
    await widget.body?.cancel();
  });

  it("a setting that is not an origin stops the start with a message naming it", async () => {
    await expect(
      startServer({
        env: { NODE_ENV: "production", PARLEY_ALLOWED_ORIGINS: "https://ok.example.com,app.example.com" },
      }),
    ).rejects.toThrow(/"app\.example\.com" is not an origin/);
  });

  it("limits that cannot work together stop the start with a message naming them", async () => {
    await expect(startServer({ env: { PARLEY_INBOUND_BYTES_BURST: "1000" } })).rejects.toThrow(
      /PARLEY_INBOUND_BYTES_BURST \(1000\) must be at least PARLEY_MAX_FRAME_BYTES/,
    );
    await expect(startServer({ env: { PARLEY_PRESENCE_WINDOW_MS: "300" } })).rejects.toThrow(
      /PARLEY_PRESENCE_WINDOW_MS \(300\) must be at most 250/,
    );
    // A count is a whole number; a wait no timer can hold would fire at once.
    await expect(startServer({ env: { PARLEY_PAGE_SIZE: "1.5" } })).rejects.toThrow(
      /PARLEY_PAGE_SIZE must be a whole number, got 1\.5/,
    );
    await expect(startServer({ env: { PARLEY_MAX_WAIT_SECONDS: "1000000000" } })).rejects.toThrow(
      /PARLEY_MAX_WAIT_SECONDS \(1000000000\) is longer than a timer can wait/,
    );
    // A burst below one token would refuse every send (429) or every frame (4008), forever.
    await expect(startServer({ env: { PARLEY_SEND_BURST: "0.5" } })).rejects.toThrow(
      /PARLEY_SEND_BURST \(0\.5\) must be at least 1/,
    );
    await expect(startServer({ env: { PARLEY_FRAME_BURST: "0.5" } })).rejects.toThrow(
      /PARLEY_FRAME_BURST \(0\.5\) must be at least 1/,
    );
    await expect(
      startServer({ env: { PARLEY_WEBHOOK_RETRY_BASE_MS: "5000", PARLEY_WEBHOOK_RETRY_MAX_MS: "1000" } }),
    ).rejects.toThrow(
      /PARLEY_WEBHOOK_RETRY_BASE_MS \(5000\) must not exceed PARLEY_WEBHOOK_RETRY_MAX_MS \(1000\)/,
    );
    // Seven relays, one after another: each refuses in about a second on a quiet machine, and
    // several seconds under load (a CI run with a busy core took this test past 30 s).
  }, 120_000);

  it("a server key shorter than 16 characters stops the start, as PARLEY_APPS' keys do", async () => {
    await expect(
      startServer({ env: { NODE_ENV: "production", PARLEY_SERVER_KEY: "short" } }),
    ).rejects.toThrow(/server key of app "default" must be at least 16 characters \(PARLEY_SERVER_KEY/);
  });

  it("webhook and hook settings that cannot work stop the start with a message naming them", async () => {
    await expect(startServer({ env: { PARLEY_WEBHOOK_URL: "https://hooks.example.com/x" } })).rejects.toThrow(
      /PARLEY_WEBHOOK_URL needs PARLEY_WEBHOOK_SECRET; make one with/,
    );
    await expect(
      startServer({
        env: { PARLEY_WEBHOOK_URL: "https://hooks.example.com/x", PARLEY_WEBHOOK_SECRET: "hunter2" },
      }),
    ).rejects.toThrow(/PARLEY_WEBHOOK_SECRET must be a whsec_ secret/);
    await expect(
      startServer({ env: { PARLEY_HOOK_URL: "ftp://x", PARLEY_HOOK_SECRET: `whsec_${"A".repeat(44)}` } }),
    ).rejects.toThrow(/PARLEY_HOOK_URL url: only http and https/);
    // Without a URL too: a secret with a typo, and events whose endpoint has no URL.
    await expect(startServer({ env: { PARLEY_WEBHOOK_SECRET: "hunter2" } })).rejects.toThrow(
      /PARLEY_WEBHOOK_SECRET must be a whsec_ secret/,
    );
    await expect(startServer({ env: { PARLEY_WEBHOOK_EVENTS: "message.created" } })).rejects.toThrow(
      /PARLEY_WEBHOOK_EVENTS is set but PARLEY_WEBHOOK_URL is not/,
    );
    // A bad value is refused even before a hook URL is set.
    await expect(startServer({ env: { PARLEY_HOOK_ON_FAILURE: "maybe" } })).rejects.toThrow(
      /PARLEY_HOOK_ON_FAILURE must be "accept" or "reject", got "maybe"/,
    );
    await expect(
      startServer({
        env: {
          PARLEY_APPS: JSON.stringify([
            {
              id: "acme",
              secret: "a".repeat(40),
              serverKey: "acme_server_key_1",
              webhooks: [{ url: "https://x.example/" }],
            },
          ]),
        },
      }),
    ).rejects.toThrow(/PARLEY_APPS must be a JSON array .*webhooks\.0\.secret/);
  }, 120_000);

  it("a data folder whose path runs through a file stops the start with a message naming the setting", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "parley-datadir-"));
    try {
      await writeFile(path.join(dir, "file"), "");
      await expect(
        startServer({
          env: { PARLEY_DATA_DIR: path.join(dir, "file", "sub") },
          // Dev mode without secrets: they are read from, or written to, the data folder.
          unset: ["PARLEY_SECRET", "PARLEY_SERVER_KEY"],
        }),
      ).rejects.toThrow(
        /the data folder .*file\/sub \(PARLEY_DATA_DIR; default: the database's folder\) is not a folder: a part of that path is a file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a folder the file system will not create (/proc/…) stops the start with a message, instead of hanging", async () => {
    // Node 20's recursive mkdir never returns there (see store/make-folder.ts).
    await expect(
      startServer({
        env: { PARLEY_DATA_DIR: "/proc/parley-no-such-folder" },
        unset: ["PARLEY_SECRET", "PARLEY_SERVER_KEY"],
      }),
    ).rejects.toThrow(
      /the data folder \/proc\/parley-no-such-folder \(PARLEY_DATA_DIR; default: the database's folder\) cannot be created there/,
    );
    await expect(
      startServer({ env: { PARLEY_DB_URL: "file:/proc/parley-no-such-folder/parley.db" } }),
    ).rejects.toThrow(/cannot open the database at file:\/proc\/parley-no-such-folder\/parley\.db: .*ENOENT/);
  }, 60_000);

  it("a port in use stops the start saying so, and naming PORT (not HOST)", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const { port } = taken.address() as AddressInfo;
    try {
      await expect(startServer({ env: { PORT: String(port), HOST: "127.0.0.1" } })).rejects.toThrow(
        new RegExp(`port ${port} is already in use on 127\\.0\\.0\\.1 .*set PORT to a free port`),
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it("a database that cannot be reached stops the start with the reason, not a failed query", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    await expect(startServer({ env: { PARLEY_DB_URL: `http://127.0.0.1:${port}` } })).rejects.toThrow(
      new RegExp(`cannot open the database at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });

  it("dev mode: the dev token answers on localhost and IP hosts, not on a DNS name (rebinding)", async () => {
    const tokenStatus = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: new URL(dev.url).port,
            path: "/v1/dev/token?user=reb",
            headers: { host },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
    const port = new URL(dev.url).port;
    expect(await tokenStatus(`127.0.0.1:${port}`)).toBe(200);
    expect(await tokenStatus(`localhost:${port}`)).toBe(200);
    expect(await tokenStatus(`[::1]:${port}`)).toBe(200);
    expect(await tokenStatus(`rebound.evil.test:${port}`)).toBe(403);
  });

  it("dev mode: any localhost origin is allowed, a foreign one is not", async () => {
    const conv = await conversation(dev, ["dorg-a"]);
    expect(await trySocket(dev, conv, "dorg-a", "http://localhost:5173")).toBe("synced");
    expect(await trySocket(dev, conv, "dorg-a", "http://127.0.0.1:3000")).toBe("synced");
    expect(await trySocket(dev, conv, "dorg-a", "https://evil.example.net")).not.toBe("synced");
    const res = await fetch(`${dev.url}/healthz`, { headers: { origin: "http://localhost:5173" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
  });

  it("an empty PARLEY_ALLOWED_ORIGINS is unset, as every empty variable is: dev mode still allows localhost", async () => {
    const server = await startServer({ env: { PARLEY_ALLOWED_ORIGINS: "" } });
    try {
      const res = await fetch(`${server.url}/v1/openapi.json`, {
        headers: { origin: "http://localhost:3000" },
      });
      expect(res.status).toBe(200);
      const foreign = await fetch(`${server.url}/v1/openapi.json`, {
        headers: { origin: "https://evil.example.net" },
      });
      expect(foreign.status).toBe(403);
    } finally {
      await server.dispose();
    }
  });
});
