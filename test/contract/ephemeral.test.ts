/** Typing (expiry, throttle), read receipts (forward only, clamped) and presence (grace, heartbeat). */

import { describe, expect, it } from "vitest";
import type { Json } from "../helpers/clients.ts";
import { eventually, expectError, ISO, send, sleep, useServer } from "../helpers/world.ts";

const TTL = 1000;
const THROTTLE = 600;
const GRACE = 800;
const HEARTBEAT = 400;
const w = useServer({
  env: {
    PARLEY_TYPING_TTL_MS: String(TTL),
    PARLEY_TYPING_THROTTLE_MS: String(THROTTLE),
    PARLEY_PRESENCE_GRACE_MS: String(GRACE),
    PARLEY_HEARTBEAT_MS: String(HEARTBEAT),
  },
});

describe("typing", () => {
  it("socket typing frame reaches other members with expiresAt about TTL ahead", async () => {
    const conv = await w.conversation(["ty-a", "ty-b"]);
    const sa = await w.synced("ty-a", conv);
    const sb = await w.synced("ty-b", conv);
    const t0 = Date.now();
    sa.send({ type: "typing" });
    const f = await sb.waitFor((x) => x.type === "typing", 3000);
    expect(f).toMatchObject({ type: "typing", userId: "ty-a", expiresAt: expect.any(String) });
    expect(f.expiresAt).toMatch(ISO);
    const ahead = Date.parse(f.expiresAt) - t0;
    expect(ahead).toBeGreaterThan(TTL - 300);
    expect(ahead).toBeLessThan(TTL + 1500);
  });

  it("HTTP POST typing -> 204 and a typing frame", async () => {
    const conv = await w.conversation(["tyh-a", "tyh-b"]);
    const sb = await w.synced("tyh-b", conv);
    const res = await (await w.as("tyh-a")).post(`/v1/conversations/${conv}/typing`);
    expect(res.status).toBe(204);
    const f = await sb.waitFor((x) => x.type === "typing", 3000);
    expect(f.userId).toBe("tyh-a");
    expect(Date.parse(f.expiresAt) - Date.now()).toBeGreaterThan(0);
  });

  it("two typings within the throttle window broadcast once; after the window, again", async () => {
    const conv = await w.conversation(["tt-a", "tt-b"]);
    const sa = await w.synced("tt-a", conv);
    const sb = await w.synced("tt-b", conv);
    sa.send({ type: "typing" });
    await sb.waitFor((x) => x.type === "typing", 3000);
    sa.send({ type: "typing" });
    sa.send({ type: "typing" });
    await sleep(THROTTLE / 2);
    expect(sb.ofType("typing").length).toBe(1);
    await sleep(THROTTLE);
    sa.send({ type: "typing" });
    await sb.until(() => sb.ofType("typing").length >= 2 || undefined, 3000, "second typing");
    const [first, second] = sb.ofType("typing");
    expect(Date.parse(second?.expiresAt)).toBeGreaterThan(Date.parse(first?.expiresAt));
    // HTTP typing shares the same throttle.
    const a = await w.as("tt-a");
    expect((await a.post(`/v1/conversations/${conv}/typing`)).status).toBe(204);
    await sleep(200);
    expect(sb.ofType("typing").length).toBe(2);
  });

  it("a sent message is not blocked by typing, and typing from several users is per user", async () => {
    const conv = await w.conversation(["tm-a", "tm-b", "tm-c"]);
    const sc = await w.synced("tm-c", conv);
    await (await w.as("tm-a")).post(`/v1/conversations/${conv}/typing`);
    await (await w.as("tm-b")).post(`/v1/conversations/${conv}/typing`);
    await sc.until(() => sc.ofType("typing").length >= 2 || undefined, 3000, "two typings");
    expect(
      sc
        .ofType("typing")
        .map((f) => f.userId)
        .sort(),
    ).toEqual(["tm-a", "tm-b"]);
  });
});

describe("read receipts", () => {
  it("POST read -> 204 and a read frame; only forward; clamped to lastSeq", async () => {
    const conv = await w.conversation(["rd-a", "rd-b"]);
    const a = await w.as("rd-a");
    const b = await w.as("rd-b");
    for (let i = 0; i < 3; i++) await send(b, conv, `m${i}`);
    const sb = await w.synced("rd-b", conv);
    const lastRead = async (user: string) => {
      const res = await b.get(`/v1/conversations/${conv}`);
      return (res.json.conversation.members as Json[]).find((m) => m.userId === user)?.lastReadSeq;
    };

    expect((await a.post(`/v1/conversations/${conv}/read`, { seq: 2 })).status).toBe(204);
    const f = await sb.waitFor((x) => x.type === "read" && x.userId === "rd-a");
    expect(f).toMatchObject({ type: "read", userId: "rd-a", seq: 2 });
    expect(await lastRead("rd-a")).toBe(2);

    expect((await a.post(`/v1/conversations/${conv}/read`, { seq: 1 })).status).toBe(204);
    await sleep(150);
    expect(await lastRead("rd-a")).toBe(2);
    // A backwards read never announces a lower seq.
    expect(sb.ofType("read").filter((x) => x.userId === "rd-a" && x.seq < 2)).toEqual([]);

    expect((await a.post(`/v1/conversations/${conv}/read`, { seq: 999 })).status).toBe(204);
    await eventually(async () => (await lastRead("rd-a")) === 3);
    const clamped = await sb.waitFor((x) => x.type === "read" && x.userId === "rd-a" && x.seq !== 2);
    expect(clamped.seq).toBe(3);
    expect(await lastRead("rd-b")).toBe(0);
  });

  it("bad seq is 400", async () => {
    const conv = await w.conversation(["rb-a"]);
    const a = await w.as("rb-a");
    for (const body of [{ seq: -1 }, { seq: "x" }, { seq: 1.5 }, {}, { seq: null }]) {
      expectError(await a.post(`/v1/conversations/${conv}/read`, body), 400);
    }
  });

  it("socket read frame moves the read position and is broadcast", async () => {
    const conv = await w.conversation(["rs-a", "rs-b"]);
    await send(await w.as("rs-b"), conv, "m1");
    await send(await w.as("rs-b"), conv, "m2");
    const sa = await w.synced("rs-a", conv);
    const sb = await w.synced("rs-b", conv);
    sa.send({ type: "read", seq: 2 });
    expect(await sb.waitFor((x) => x.type === "read")).toMatchObject({
      type: "read",
      userId: "rs-a",
      seq: 2,
    });
    const res = await w.admin.get(`/v1/conversations/${conv}`);
    expect((res.json.conversation.members as Json[]).find((m) => m.userId === "rs-a")?.lastReadSeq).toBe(2);
    sa.send({ type: "read", seq: -5 });
    const err = await sa.waitFor((x) => x.type === "error");
    expect(err.code).toEqual(expect.any(String));
  });
});

describe("presence", () => {
  const online = async (user: string, conv: string): Promise<string[]> => {
    const res = await (await w.as(user)).get(`/v1/conversations/${conv}/presence`);
    expect(res.status).toBe(200);
    return res.json.online;
  };

  it("connect -> online (GET and presence frame); close -> still online within grace, gone after", async () => {
    const conv = await w.conversation(["pr-a", "pr-b"]);
    expect(await online("pr-b", conv)).toEqual([]);
    const sb = await w.synced("pr-b", conv);
    const sa = await w.synced("pr-a", conv);
    expect((await online("pr-b", conv)).sort()).toEqual(["pr-a", "pr-b"]);
    await sb.until(() => sb.online()?.includes("pr-a"), 3000, "pr-a online");

    await sa.close();
    const closedAt = Date.now();
    await sleep(GRACE / 4);
    expect(await online("pr-b", conv)).toContain("pr-a");
    expect(Date.now() - closedAt).toBeLessThan(GRACE);

    await eventually(async () => !(await online("pr-b", conv)).includes("pr-a"), GRACE + 3000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE - 100);
    await sb.until(() => {
      const online = sb.online();
      return online && !online.includes("pr-a") && online.includes("pr-b");
    }, 3000);
  });

  it("a reconnect within the grace period does not drop the user", async () => {
    const conv = await w.conversation(["rc-a", "rc-b"]);
    const sb = await w.synced("rc-b", conv);
    const sa = await w.synced("rc-a", conv);
    await sb.until(() => sb.online()?.includes("rc-a"), 3000, "rc-a online");
    await sa.close();
    await sleep(GRACE / 4);
    await w.synced("rc-a", conv);
    await sleep(GRACE + 400);
    expect(await online("rc-b", conv)).toContain("rc-a");
    // No presence frame ever showed rc-a offline after they first appeared.
    const views = sb.presenceViews();
    const firstOnline = views.findIndex((online) => online.includes("rc-a"));
    expect(views.slice(firstOnline).filter((online) => !online.includes("rc-a"))).toEqual([]);
  });

  it("a dead socket (no pongs) is found by heartbeat and goes offline", async () => {
    const conv = await w.conversation(["hb-a", "hb-b"]);
    const sa = await w.synced("hb-a", conv);
    expect(await online("hb-b", conv)).toContain("hb-a");
    // Stop reading: the client no longer answers pings, as if its network vanished.
    (sa.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(
      async () => !(await online("hb-b", conv)).includes("hb-a"),
      HEARTBEAT * 4 + GRACE + 3000,
      100,
    );
  });
});
