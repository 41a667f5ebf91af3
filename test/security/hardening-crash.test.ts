/**
 * Hardening, critical: no request without credentials can take the relay down, and refusals
 * echo nothing an attacker chose. Each test here failed against the relay before the fix.
 */
import { describe, expect, it } from "vitest";
import { mintToken } from "../helpers/clients.ts";
import { sleep, uid, useServer } from "../helpers/world.ts";
import { appsEnv } from "./kit.ts";
import { RawWs } from "./raw-ws.ts";

/** An unsigned token (signature of garbage) whose payload says what we like. */
function unsigned(payload: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(payload)}.${Buffer.from("forged").toString("base64url")}`;
}

const exp = () => Math.floor(Date.now() / 1000) + 600;

describe("no unauthenticated crash", () => {
  const w = useServer({ env: appsEnv });

  it("an unsigned token naming an app of 100 × é: 4001, a close reason that fits and echoes nothing; still serving", async () => {
    const token = unsigned({ sub: "mallory", exp: exp(), app: "é".repeat(100) });
    const conv = await w.conversation(["ann"]);
    const ws = await RawWs.connect(w.server.port, `/parties/conversation/${conv}?token=${token}`);
    const closed = await ws.closed;
    expect(closed.code).toBe(4001);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    expect(closed.reason).not.toContain("é");
    // Also the inbox path and HTTP.
    const inbox = await RawWs.connect(w.server.port, `/parties/inbox/mallory?token=${token}`);
    expect((await inbox.closed).code).toBe(4001);
    const http = await fetch(`${w.server.url}/v1/conversations`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(http.status).toBe(401);
    expect(await http.text()).not.toContain("é");
    await sleep(200);
    expect(w.server.proc.exitCode, "the relay is still running").toBeNull();
    expect((await fetch(`${w.server.url}/healthz`)).status).toBe(200);
  });

  it("a long reason of any kind is cut by bytes on a character boundary (socket close reasons)", async () => {
    // A conversation id that is 64 characters of a valid id gives the longest fixed refusal;
    // every refusal text is fixed now, so the check is that each fits.
    const token = await w.token("ann");
    for (const path of [
      `/parties/conversation/${"x".repeat(64)}?token=${token}`,
      `/parties/inbox/${encodeURIComponent("é".repeat(60))}?token=${token}`,
      `/parties/conversation/c?token=${token}&after=${"9".repeat(40)}`,
    ]) {
      const ws = await RawWs.connect(w.server.port, path);
      const closed = await ws.closed;
      expect(closed.code, path).toBeGreaterThanOrEqual(1000);
      expect(Buffer.byteLength(closed.reason), path).toBeLessThanOrEqual(123);
    }
    expect(w.server.proc.exitCode).toBeNull();
  });

  it("an unknown app and a forged signature get the same answer (no probing which tenants exist)", async () => {
    const conv = await w.conversation(["ann"]);
    const unknownApp = await mintToken("some-secret-some-secret-some-secret!", "ann", { app: "nope" });
    const forgedKnown = await mintToken("some-secret-some-secret-some-secret!", "ann", { app: "acme" });
    const answers = [];
    for (const token of [unknownApp, forgedKnown]) {
      const ws = await RawWs.connect(w.server.port, `/parties/conversation/${conv}?token=${token}`);
      const closed = await ws.closed;
      const http = await fetch(`${w.server.url}/v1/conversations`, {
        headers: { authorization: `Bearer ${token}` },
      });
      answers.push({
        code: closed.code,
        reason: closed.reason,
        status: http.status,
        body: await http.text(),
      });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.code).toBe(4001);
  });
});

describe("a last-resort handler", () => {
  // Errors nothing handles, raised on SIGUSR2 by a preload once the relay serves: it logs them
  // and keeps serving instead of exiting with every socket and pending send.
  // (%20: NODE_OPTIONS splits at spaces; the data URL decodes it.)
  const inject =
    "data:text/javascript,process.on('SIGUSR2',()=>{Promise.reject(new%20Error('injected-rejection'));setTimeout(()=>{throw%20new%20Error('injected-exception')},50)})";
  const w = useServer({ env: { NODE_OPTIONS: `--import=${inject}` } });

  it("logs an unhandled rejection and an uncaught exception and keeps serving", async () => {
    const user = uid("u");
    const conv = await w.conversation([user]);
    w.server.proc.kill("SIGUSR2");
    for (let i = 0; i < 40 && !w.server.output().includes("injected-exception"); i++) await sleep(100);
    expect(w.server.output()).toContain("injected-rejection");
    expect(w.server.output()).toContain("injected-exception");
    await sleep(200);
    expect(w.server.proc.exitCode, "the relay is still running").toBeNull();
    const client = await w.as(user);
    const res = await client.post(`/v1/conversations/${conv}/messages`, {
      clientMessageId: "after",
      body: "still here",
    });
    expect(res.status).toBe(201);
  });
});
