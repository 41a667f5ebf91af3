/**
 * Hostile input, WebSocket protocol: frames no browser sends (invalid UTF-8, unmasked, reserved
 * bits and opcodes, lying lengths, oversized and fragmented), binary frames and floods. Each
 * gets the contract's close code or error frame, nothing is stored, and the relay keeps serving.
 */
import { describe, expect, it } from "vitest";
import { WsClient } from "../helpers/clients.ts";
import { history, sleep, uid, useServer } from "../helpers/world.ts";
import { expectIntactAndServing, expectSettledAndServing, rawSynced, rssOf } from "./kit.ts";
import { Op, RawWs } from "./raw-ws.ts";

const w = useServer({ env: { PARLEY_MAX_CONNECTIONS_PER_USER: "5", PARLEY_LOG: "warn" } });

/** A fresh conversation with members `u` and `v`, and a raw synced socket for `u`. */
async function setup(): Promise<{ conv: string; u: string; v: string; ws: RawWs }> {
  const u = uid("u");
  const v = uid("v");
  const conv = await w.conversation([u, v]);
  const ws = await rawSynced(w, u, conv);
  return { conv, u, v, ws };
}

const sendFrame = (key: string, body = "hello") =>
  JSON.stringify({ type: "send", clientMessageId: key, body });

describe("hostile WebSocket frames", () => {
  it("a text frame of invalid UTF-8 closes the socket with 1007", async () => {
    const { conv, u, ws } = await setup();
    ws.send(Op.text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await ws.waitClose()).code).toBe(1007);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a valid send frame with one invalid UTF-8 byte in its body closes 1007 and stores nothing", async () => {
    const { conv, u, ws } = await setup();
    const bytes = Buffer.concat([
      Buffer.from('{"type":"send","clientMessageId":"bad-utf8","body":"abc'),
      Buffer.from([0xc3, 0x28]), // a 2-byte lead followed by a non-continuation byte
      Buffer.from('"}'),
    ]);
    ws.send(Op.text, bytes);
    expect((await ws.waitClose()).code).toBe(1007);
    expect(ws.json.filter((f) => f.type === "ack")).toEqual([]);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("UTF-8-encoded surrogates and overlong encodings are invalid UTF-8: 1007", async () => {
    const { conv, u, ws } = await setup();
    // ED A0 80 is U+D800 encoded as UTF-8 (forbidden); C0 AF is an overlong "/".
    ws.send(
      Op.text,
      Buffer.concat([
        Buffer.from(sendFrame("surr").slice(0, -2)),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]),
    );
    expect((await ws.waitClose()).code).toBe(1007);
    const ws2 = await rawSynced(w, u, conv);
    ws2.send(
      Op.text,
      Buffer.concat([Buffer.from('{"type":"ping","x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
    );
    expect((await ws2.waitClose()).code).toBe(1007);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a binary frame (even one holding a valid send) gets an error frame bad_frame; nothing stored; socket stays usable", async () => {
    const { conv, u, ws } = await setup();
    ws.send(Op.binary, Buffer.from(sendFrame("in-binary")));
    const err = await ws.waitFor((f) => f.type === "error", 3000, "error frame");
    expect(err.code).toBe("bad_frame");
    ws.sendJson({ type: "ping" });
    await ws.waitFor((f) => f.type === "pong", 3000, "pong after the binary frame");
    expect(ws.isClosed).toBe(false);
    expect((await history(await w.as(u), conv)).length).toBe(0);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a single frame over 64 KiB closes with 1009", async () => {
    const { conv, u, ws } = await setup();
    ws.send(
      Op.text,
      JSON.stringify({ type: "send", clientMessageId: "huge", body: "x", meta: { pad: "p".repeat(70_000) } }),
    );
    expect((await ws.waitClose()).code).toBe(1009);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a frame header announcing 2^62 bytes is refused at once (1009) without waiting for the bytes", async () => {
    const { conv, u, ws } = await setup();
    const started = Date.now();
    ws.send(Op.text, Buffer.from("{}"), { declaredLength: 1n << 62n });
    const close = await ws.waitClose(3000);
    expect(close.code === 1009 || close.code === 1002, `close ${close.code}`).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a fragmented message whose fragments add up past 64 KiB closes with 1009", async () => {
    const { conv, u, ws } = await setup();
    const chunk = Buffer.alloc(10_000, 0x61);
    ws.send(Op.text, Buffer.from('{"type":"send","clientMessageId":"frag","body":"'), { fin: false });
    for (let i = 0; i < 8 && !ws.isClosed; i++) ws.send(Op.cont, chunk, { fin: false });
    ws.send(Op.cont, Buffer.from('"}'), { fin: true });
    expect((await ws.waitClose()).code).toBe(1009);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("an unmasked client frame is a protocol error: 1002", async () => {
    const { conv, u, ws } = await setup();
    ws.send(Op.text, sendFrame("unmasked"), { mask: false });
    expect((await ws.waitClose()).code).toBe(1002);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a reserved opcode (0x3) is a protocol error: 1002", async () => {
    const { conv, u, ws } = await setup();
    ws.send(0x3, sendFrame("reserved-op"));
    expect((await ws.waitClose()).code).toBe(1002);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("RSV1 set without a negotiated extension is a protocol error: 1002", async () => {
    const { conv, u, ws } = await setup();
    ws.send(Op.text, sendFrame("rsv1"), { rsv: 4 });
    expect((await ws.waitClose()).code).toBe(1002);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("control frames: a 200-byte ping and a fragmented ping are protocol errors: 1002", async () => {
    const { conv, u, ws } = await setup();
    ws.send(Op.ping, Buffer.alloc(200, 1));
    expect((await ws.waitClose()).code).toBe(1002);
    const ws2 = await rawSynced(w, u, conv);
    ws2.send(Op.ping, Buffer.from("frag"), { fin: false });
    expect((await ws2.waitClose()).code).toBe(1002);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("an orphan continuation frame, and a new text frame inside a fragmented one, are 1002", async () => {
    const { conv, u, ws } = await setup();
    ws.send(Op.cont, sendFrame("orphan"));
    expect((await ws.waitClose()).code).toBe(1002);
    const ws2 = await rawSynced(w, u, conv);
    ws2.send(Op.text, Buffer.from('{"type":"send",'), { fin: false });
    ws2.send(Op.text, sendFrame("interleaved"));
    expect((await ws2.waitClose()).code).toBe(1002);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("control: a send split into fragments, with a multi-byte character cut between them, is accepted once", async () => {
    const { conv, u, ws } = await setup();
    const bytes = Buffer.from(JSON.stringify({ type: "send", clientMessageId: "split", body: "café ☕" }));
    const cut = bytes.indexOf(0xe2) + 1; // inside the 3-byte ☕
    ws.send(Op.text, bytes.subarray(0, cut), { fin: false });
    ws.send(Op.cont, bytes.subarray(cut), { fin: true });
    const ack = await ws.waitFor((f) => f.type === "ack", 3000, "ack");
    expect(ack.message).toMatchObject({ seq: 1, body: "café ☕" });
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 1);
  });

  it("a bad Sec-WebSocket-Version or an unknown party is refused before the upgrade", async () => {
    const { conv, u } = await setup();
    const token = await w.token(u);
    await expect(
      RawWs.connect(w.server.port, `/parties/conversation/${conv}?token=${token}`, { version: "99" }),
    ).rejects.toThrow(/handshake refused: HTTP\/1\.1 4\d\d/);
    await expect(RawWs.connect(w.server.port, `/parties/evil/${conv}?token=${token}`)).rejects.toThrow(
      /handshake refused: HTTP\/1\.1 404/,
    );
    // A dot-segment path is resolved like any URL (here to a conversation that does not exist):
    // refused before the upgrade, or upgraded and closed with 4004, never attached elsewhere.
    const dotted = await RawWs.connect(
      w.server.port,
      `/parties/conversation/${conv}/../nope-${uid("x")}?token=${token}`,
    ).catch((e: Error) => e);
    if (dotted instanceof Error) expect(dotted.message).toMatch(/handshake refused: HTTP\/1\.1 4\d\d/);
    else {
      expect((await dotted.waitClose()).code).toBe(4004);
      expect(dotted.json.filter((f) => f.type === "message" || f.type === "synced")).toEqual([]);
    }
    await expectIntactAndServing(w, conv, u, 0);
  });
});

describe("floods", () => {
  it("a flood of JSON pings closes that socket with 4008; another member's socket is untouched", async () => {
    const { conv, u, v, ws } = await setup();
    const calm = await w.synced(v, conv);
    for (let i = 0; i < 2000 && !ws.isClosed; i++) ws.sendJson({ type: "ping" });
    expect((await ws.waitClose(8000)).code).toBe(4008);
    expect(calm.isOpen).toBe(true);
    calm.send({ type: "ping" });
    await calm.waitFor((f) => f.type === "pong", 3000);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a burst of 150 sends: 40ish acked, the rest rate_limited with their keys; exactly the acked are stored", async () => {
    const { conv, u, v, ws } = await setup();
    const started = performance.now();
    for (let i = 0; i < 150; i++) ws.send(Op.text, sendFrame(`f${i}`, `flood ${i}`));
    const answers = () =>
      ws.json.filter((f) => f.type === "ack" || (f.type === "error" && f.code === "rate_limited"));
    for (let t = 0; t < 400 && answers().length < 150; t++) await sleep(50);
    // The bucket refills at 20/s while the burst is processed: how many is a matter of time, not
    // of machine speed, so the bound is counted from the time it took.
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 20);
    const acked = ws.json.filter((f) => f.type === "ack");
    const limited = ws.json.filter((f) => f.type === "error" && f.code === "rate_limited");
    expect(acked.length + limited.length).toBe(150);
    expect(acked.length).toBeGreaterThanOrEqual(40);
    expect(acked.length).toBeLessThanOrEqual(40 + refilled); // burst 40 plus what refilled meanwhile
    for (const e of limited) expect(e.clientMessageId).toMatch(/^f\d+$/);
    const stored = await history(await w.as(v), conv);
    expect(stored.map((m) => m.clientMessageId).sort()).toEqual(
      acked.map((f) => f.clientMessageId as string).sort(),
    );
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    // Flooding on past the frame burst closes the socket with 4008.
    for (let i = 0; i < 400 && !ws.isClosed; i++) ws.send(Op.text, sendFrame(`g${i}`, `more ${i}`));
    expect((await ws.waitClose(8000)).code).toBe(4008);
    // Sends accepted just before the close may commit unacknowledged (the client resends
    // them with their keys), never twice: the next normal send is committed after them.
    await sleep(2100); // let the send bucket refill
    await expectSettledAndServing(w, conv, u);
  });

  it("a flood of 2,000 WebSocket control pings is answered or cut, never crashes the relay", async () => {
    const { conv, u, ws } = await setup();
    let pongs = 0;
    for (let i = 0; i < 2000 && !ws.isClosed; i++) ws.send(Op.ping, Buffer.alloc(125, i % 256));
    const close = await ws.waitClose(1500);
    pongs = ws.frames.filter((f) => f.opcode === Op.pong).length;
    // ws answers pings, and cuts (no close frame) a peer whose pongs pile up unread; 4008 is fine too.
    expect([-1, null, 4008], `close ${close.code}, ${pongs} pongs`).toContain(close.code);
    if (close.code === -1) expect(pongs).toBeGreaterThan(0);
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a flood of tiny fragments (one message in 20,000 one-byte continuations) is cut, memory bounded", async () => {
    const { conv, u, ws } = await setup();
    const pid = w.server.proc.pid;
    const before = rssOf(pid);
    ws.send(Op.text, Buffer.from("{"), { fin: false });
    const one = Buffer.from(" ");
    for (let i = 0; i < 20_000 && !ws.isClosed; i++) ws.send(Op.cont, one, { fin: false });
    const close = await ws.waitClose(5000);
    // ws caps fragments per message (maxFragments): 1008; 1009 or 4008 would do as well.
    expect([1008, 1009, 4008], `close ${close.code}`).toContain(close.code);
    const after = rssOf(pid);
    if (before !== null && after !== null) expect(after - before).toBeLessThan(64 * 1024 * 1024);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("a typing flood is throttled for the others and closed with 4008", async () => {
    const { conv, u, v, ws } = await setup();
    const other = await w.synced(v, conv);
    for (let i = 0; i < 1000 && !ws.isClosed; i++) ws.sendJson({ type: "typing" });
    expect((await ws.waitClose(8000)).code).toBe(4008);
    await sleep(300);
    expect(other.ofType("typing").length).toBeLessThanOrEqual(2);
    expect(other.isOpen).toBe(true);
    await expectIntactAndServing(w, conv, u, 0);
  });

  it("per-user connection cap (PARLEY_MAX_CONNECTIONS_PER_USER=5): the sixth socket closes with 4008, the five stay", async () => {
    const { conv, u, ws } = await setup(); // socket 1
    const pks = [uid("pk"), uid("pk"), uid("pk"), uid("pk")];
    const more: WsClient[] = [];
    for (const pk of pks) more.push(await w.synced(u, conv, { _pk: pk }));
    const sixth = w.track(
      WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, {
        token: await w.token(u),
        _pk: uid("pk"),
      }),
    );
    const closed = await Promise.race([sixth.closed, sleep(3000).then(() => ({ code: -1, reason: "open" }))]);
    expect(closed.code).toBe(4008);
    expect(ws.isClosed).toBe(false);
    for (const s of more) expect(s.isOpen).toBe(true);
    // At the cap, a reconnect of an instance whose old socket is still open replaces it (4009,
    // the contract's rule for the same `_pk`) instead of being refused.
    const previous = more[3] as WsClient;
    more[3] = await w.synced(u, conv, { _pk: pks[3] as string });
    expect((await previous.closed).code).toBe(4009);
    for (const s of more) expect(s.isOpen).toBe(true);
    expect(ws.isClosed).toBe(false);
    // And the count is back at the cap: another new instance is still refused.
    const seventh = w.track(
      WsClient.connect(w.server.wsUrl, `/parties/conversation/${conv}`, {
        token: await w.token(u),
        _pk: uid("pk"),
      }),
    );
    const refused = await Promise.race([
      seventh.closed,
      sleep(3000).then(() => ({ code: -1, reason: "open" })),
    ]);
    expect(refused.code).toBe(4008);
    // The cap is per user: another member still connects.
    for (const s of more) await s.close();
    ws.destroy();
    await expectIntactAndServing(w, conv, u, 0);
  });
});
