/**
 * Answers to a connection's own frames (pong, ack, error) count against its outbound cap like
 * fan-out does: a connection that uploads and never reads is closed with 4008, its answers are
 * not queued without bound (a finding of the hardening audit).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloseCode } from "../../../party/core/errors.ts";
import { defaultLimits } from "../../../party/core/limits.ts";
import { RelayHub } from "../../../party/host/local-directory.ts";
import type { LibsqlStore } from "../../../store/libsql-store.ts";
import { inMemoryStore, RecordingConnection } from "./fixtures.ts";

let store: LibsqlStore;
let hub: RelayHub;
beforeEach(async () => {
  store = await inMemoryStore();
  hub = new RelayHub({
    store,
    limits: { ...defaultLimits, socketBufferBytes: 1000 },
    onError: () => {},
    defer: setImmediate,
  });
});
afterEach(async () => {
  await hub.close();
  await store.close();
});

describe("replies within the outbound cap", () => {
  it("a ping from a connection over its cap closes it with 4008 instead of queueing a pong", async () => {
    await hub.createConversation("default", { id: "c", members: ["a"] });
    const room = await hub.room("default", "c");
    const conn = new RecordingConnection();
    const peer = room.connect(conn, { app: "default", userId: "a" }, undefined);
    if (!peer) throw new Error("refused");
    for (let i = 0; i < 20 && !conn.types().includes("synced"); i++)
      await new Promise((r) => setImmediate(r));
    await room.receive(peer, '{"type":"ping"}');
    expect(conn.types().at(-1)).toBe("pong");
    conn.bufferedAmount = 1001; // it stopped reading
    const before = conn.frames.length;
    await room.receive(peer, '{"type":"ping"}');
    expect(conn.closeCode).toBe(CloseCode.tooSlowOrFast);
    expect(conn.frames.length).toBe(before);
  });

  it("an inbox socket over its cap is closed with 4008 when it pings", async () => {
    const conn = new RecordingConnection();
    const inbox = hub.openInbox("a", conn, { app: "default", userId: "a" });
    if (!inbox) throw new Error("refused");
    inbox.receive(conn.id, '{"type":"ping"}');
    expect(conn.types()).toEqual(["pong"]);
    conn.bufferedAmount = 1001;
    inbox.receive(conn.id, '{"type":"ping"}');
    expect(conn.closeCode).toBe(CloseCode.tooSlowOrFast);
    expect(conn.types()).toEqual(["pong"]);
  });

  it("a refused inbox (not the owner's) leaves no inbox behind", () => {
    const conn = new RecordingConnection();
    expect(hub.openInbox("a", conn, { app: "default", userId: "mallory" })).toBeNull();
    expect(conn.closeCode).toBe(CloseCode.forbidden);
    expect(hub.inboxCount).toBe(0);
  });
});
