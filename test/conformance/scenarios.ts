/**
 * One conformance suite for every runtime (crossws's `test/tests.ts` pattern): the same
 * scenarios run against each fixture. A runtime that truly cannot do something lists it in
 * `skip` with the reason, and the README's capability table says the same.
 */
import { describe, expect, it } from "vitest";
import { api, type Frame, mintToken } from "../helpers/clients.ts";
import type { StartOptions } from "../helpers/server.ts";
import { eventually, expectError, history, range, sleep, uid, useServer } from "../helpers/world.ts";

export type Scenario =
  | "ordered delivery"
  | "idempotent retry"
  | "resume"
  | "typing"
  | "seen"
  | "presence"
  | "presence deltas"
  | "thread list"
  | "profiles"
  | "auth refusals"
  | "inbox flood"
  | "member removed"
  | "message changes"
  | "api reference"
  | "crash safety"
  | "client close";

export interface Fixture {
  name: string;
  start: StartOptions;
  /** Scenarios this runtime cannot run, with the reason. */
  skip?: Partial<Record<Scenario, string>>;
  /** `GET /docs` is served (dev mode with Swagger UI's files: Node and Deno, not the edge). */
  docsPage?: boolean;
  /** `GET /metrics` is served (Node and Deno; the edge answers 404 saying so). */
  metrics?: boolean;
}

export function conformanceSuite(fixture: Fixture): void {
  const w = useServer({
    ...fixture.start,
    env: { PARLEY_TYPING_TTL_MS: "1500", PARLEY_PRESENCE_GRACE_MS: "400", ...fixture.start.env },
  });
  const scenario = (name: Scenario, body: () => Promise<void>, timeoutMs = 30_000) => {
    const reason = fixture.skip?.[name];
    if (reason) it.skip(`${name} — skipped: ${reason}`, body);
    else it(name, body, timeoutMs);
  };

  describe(`conformance: ${fixture.name}`, () => {
    scenario("api reference", async () => {
      const doc = await w.admin.get("/v1/openapi.json");
      expect(doc.status).toBe(200);
      expect(doc.json.openapi).toBe("3.1.0");
      expect(Object.keys(doc.json.paths)).toEqual(
        expect.arrayContaining([
          "/v1/conversations/{id}/messages",
          "/v1/conversations/{id}/log",
          "/v1/webhooks",
        ]),
      );
      const page = await w.admin.get("/docs");
      if (fixture.docsPage === false) expectError(page, 404, "not_found");
      else expect(page.status).toBe(200);
      const metrics = await w.admin.get("/metrics");
      if (fixture.metrics === false) {
        expectError(metrics, 404, "not_found");
        expect(metrics.json.error.message).toMatch(/Node and Deno/);
      } else {
        expect(metrics.status).toBe(200);
        expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      }
    });

    scenario("client close", async () => {
      // A client that closes its socket gets the relay's close frame back at once (the
      // closing handshake), not a dropped connection after the proxy's timeout.
      const conv = await w.conversation(["ann", "bob"]);
      const [conversation, inbox] = await Promise.all([w.synced("ann", conv), w.inbox("ann")]);
      for (const socket of [conversation, inbox]) {
        await socket.opened;
        const started = Date.now();
        socket.ws.close(1000, "bye");
        const closed = await Promise.race([
          socket.closed,
          sleep(5_000).then(() => ({ code: -1, reason: "no close within 5 s" })),
        ]);
        expect(closed.code, `${closed.reason} after ${Date.now() - started} ms`).toBe(1000);
      }
    });

    scenario("ordered delivery", async () => {
      const conv = await w.conversation(["ann", "bob", "cy"]);
      const [ann, bob] = await Promise.all([w.as("ann"), w.as("bob")]);
      const watchers = await Promise.all([w.synced("cy", conv), w.synced("ann", conv)]);
      const sends = range(0, 29).map((i) =>
        (i % 2 ? ann : bob).post(`/v1/conversations/${conv}/messages`, {
          clientMessageId: `k${i}`,
          body: `m${i}`,
        }),
      );
      const results = await Promise.all(sends);
      expect(results.every((r) => r.status === 201)).toBe(true);
      for (const watcher of watchers) expect(await watcher.waitForMessages(30, 10_000)).toEqual(range(1, 30));
    });

    scenario("idempotent retry", async () => {
      const conv = await w.conversation(["ann", "bob"]);
      const ann = await w.as("ann");
      const first = await ann.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "once",
        body: "hi",
      });
      const again = await ann.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "once",
        body: "hi",
      });
      const conflict = await ann.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "once",
        body: "no",
      });
      expect(first.status).toBe(201);
      expect(again.status).toBe(200);
      expect(again.json.message).toEqual(first.json.message);
      expectError(conflict, 409, "conflict");
      const socket = await w.synced("bob", conv);
      socket.send({ type: "send", clientMessageId: "sock", body: "x" });
      socket.send({ type: "send", clientMessageId: "sock", body: "x" });
      await socket.waitFor((f) => f.type === "ack" && f.clientMessageId === "sock");
      await sleep(200);
      const acks = socket.ofType("ack");
      expect(acks.length).toBe(2);
      expect(acks[0]?.message.seq).toBe(acks[1]?.message.seq);
      expect((await history(ann, conv)).map((m) => m.seq)).toEqual([1, 2]);
    });

    scenario("resume", async () => {
      const conv = await w.conversation(["ann", "bob"]);
      const ann = await w.as("ann");
      for (const i of range(1, 5))
        await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `a${i}`, body: `${i}` });
      const bob = await w.synced("bob", conv, { after: 2 });
      expect(bob.messages()).toEqual([3, 4, 5]);
      const synced = bob.ofType("synced")[0];
      expect(synced?.lastSeq).toBe(5);
      await bob.close();
      for (const i of range(6, 8))
        await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `a${i}`, body: `${i}` });
      const back = await w.synced("bob", conv, { after: 5 });
      expect(back.messages()).toEqual([6, 7, 8]);
      await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "a9", body: "9" });
      expect(await back.waitForMessages(4)).toEqual([6, 7, 8, 9]);
    });

    scenario("typing", async () => {
      const conv = await w.conversation(["ann", "bob"]);
      const bob = await w.synced("bob", conv);
      const ann = await w.as("ann");
      expect((await ann.post(`/v1/conversations/${conv}/typing`)).status).toBe(204);
      const typing = await bob.waitFor((f) => f.type === "typing" && f.userId === "ann");
      const ahead = Date.parse(typing.expiresAt) - Date.now();
      expect(ahead).toBeGreaterThan(500);
      expect(ahead).toBeLessThan(3000);
    });

    scenario("seen", async () => {
      const conv = await w.conversation(["ann", "bob"]);
      const ann = await w.as("ann");
      const bob = await w.as("bob");
      for (const i of range(1, 3))
        await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `s${i}`, body: "x" });
      const annSocket = await w.synced("ann", conv);
      expect((await bob.post(`/v1/conversations/${conv}/read`, { seq: 2 })).status).toBe(204);
      const read = await annSocket.waitFor((f) => f.type === "read" && f.userId === "bob");
      expect(read.seq).toBe(2);
      await bob.post(`/v1/conversations/${conv}/read`, { seq: 1 });
      const described = await ann.get(`/v1/conversations/${conv}`);
      expect(described.json.conversation.members).toContainEqual({ userId: "bob", lastReadSeq: 2 });
    });

    scenario("presence", async () => {
      const conv = await w.conversation(["ann", "bob"]);
      const ann = await w.as("ann");
      const bob = await w.synced("bob", conv);
      expect((await ann.get(`/v1/conversations/${conv}/presence`)).json.online).toContain("bob");
      await bob.close();
      await sleep(1200);
      expect((await ann.get(`/v1/conversations/${conv}/presence`)).json.online).not.toContain("bob");
    });

    scenario("presence deltas", async () => {
      // A small storm: everyone connects at once. Each socket gets one full list right after
      // `synced`, then deltas; every id reaches it about once; all end with the same set.
      const users = range(1, 12).map((i) => `pd${i}`);
      const conv = await w.conversation(users);
      await Promise.all(users.map((u) => w.token(u)));
      const sockets = await Promise.all(users.map((u) => w.socket(u, conv)));
      const everyone = [...users].sort();
      const holds = (online: string[] | undefined, want: string[]) =>
        JSON.stringify(online) === JSON.stringify(want);
      for (const s of sockets) await s.until(() => holds(s.online(), everyone), 15_000, "everyone online");
      const ids = (f: Frame) =>
        Array.isArray(f.online)
          ? f.online.length
          : (f.joined as string[]).length + (f.left as string[]).length;
      for (const s of sockets) {
        const synced = s.frames.findIndex((f) => f.type === "synced");
        const full = s.frames.flatMap((f, i) =>
          f.type === "presence" && Array.isArray(f.online) ? [i] : [],
        );
        expect(full).toEqual([synced + 1]);
        expect(s.ofType("presence").reduce((n, f) => n + ids(f), 0)).toBeLessThanOrEqual(2 * users.length);
      }
      // One leaves: after the grace period the others get the same delta, and GET agrees.
      const [gone, ...rest] = sockets;
      const marks = rest.map((s) => s.frames.length);
      await gone?.close();
      const left = everyone.filter((u) => u !== "pd1");
      for (const s of rest) await s.until(() => holds(s.online(), left), 10_000, "pd1 gone");
      const told = rest.map((s, i) =>
        JSON.stringify(s.frames.slice(marks[i]).filter((f) => f.type === "presence")),
      );
      for (const t of told) expect(t).toBe(told[0]);
      // (A delta of the storm's last join may still have been on its way: it changes nothing.)
      const deltas = JSON.parse(told[0] ?? "[]") as Frame[];
      expect(deltas.flatMap((f) => f.left as string[])).toEqual(["pd1"]);
      expect(deltas.every((f) => (f.joined as string[]).every((u) => left.includes(u)))).toBe(true);
      const api = await w.as("pd2");
      expect([...(await api.get(`/v1/conversations/${conv}/presence`)).json.online].sort()).toEqual(left);
      await Promise.all(rest.map((s) => s.close()));
    });

    scenario(
      "thread list",
      async () => {
        const [first, second] = [uid("t"), uid("t")];
        await w.conversation(["ann", "dee"], { id: first });
        await w.conversation(["ann", "dee"], { id: second });
        const dee = await w.as("dee");
        const inbox = await w.inbox("ann");
        await inbox.opened;
        await dee.post(`/v1/conversations/${first}/messages`, { clientMessageId: "t1", body: "one" });
        await dee.post(`/v1/conversations/${first}/messages`, { clientMessageId: "t2", body: "two" });
        const thread = await inbox.waitFor((f) => f.type === "thread" && f.conversation.lastSeq === 2);
        expect(thread.conversation).toMatchObject({ id: first, unread: 2, lastReadSeq: 0 });
        const list = await (await w.as("ann")).get("/v1/conversations");
        const ids = list.json.conversations.map((c: { id: string }) => c.id);
        expect(ids.indexOf(first)).toBeLessThan(ids.indexOf(second));
        expect(list.json.conversations[ids.indexOf(first)]).toMatchObject({ unread: 2, lastSeq: 2 });

        // Right after each send, a row may not show it yet (the room flushes to libSQL behind
        // the ack on the edge), but it always agrees with itself: its last message is within its
        // lastSeq, and its unread count counts up to there. (Its lastMessage was read in a query
        // of its own: a flush landing between the two showed a message the counts did not have.)
        const [ann, own] = [await w.as("ann"), uid("t")];
        await w.conversation(["ann", "dee"], { id: own });
        const seen: string[] = [];
        for (let i = 1; i <= 40; i++) {
          expect(
            (await dee.post(`/v1/conversations/${own}/messages`, { clientMessageId: `r${i}`, body: `r${i}` }))
              .status,
          ).toBe(201);
          const rows = (await ann.get("/v1/conversations")).json.conversations as Array<{
            id: string;
            lastSeq: number;
            unread: number;
            lastMessage: { seq: number } | null;
          }>;
          const row = rows.find((r) => r.id === own);
          if (!row) throw new Error(`send ${i}: the conversation is missing from the thread list`);
          seen.push(`${row.lastSeq}/${row.lastMessage?.seq ?? "-"}/${row.unread}`);
          expect(
            row.lastMessage?.seq ?? 0,
            `send ${i}: lastSeq/lastMessage.seq/unread ${seen.at(-1)}`,
          ).toBeLessThanOrEqual(row.lastSeq);
          // Every message is dee's and ann read none: unread is every message up to lastSeq.
          expect(row.unread, `send ${i}: ${seen.at(-1)}`).toBe(row.lastSeq);
          expect(row.lastMessage?.seq ?? 0).toBe(row.lastSeq);
        }
        // 40 sends and lists in a row: seconds on the edge, more under load.
      },
      60_000,
    );

    scenario("profiles", async () => {
      const [sam, ana] = [uid("sam"), uid("ana")];
      const set = await w.admin.put(`/v1/users/${sam}/profile`, {
        name: "Sam",
        picture: "https://example.com/sam.png",
      });
      expect(set.status, set.text).toBe(200);
      expectError(await w.admin.put(`/v1/users/${sam}/profile`, { name: "" }), 400);
      expectError(await (await w.as(ana)).put(`/v1/users/${sam}/profile`, { name: "x" }), 403);
      // Ana's token names her: admitted, it becomes her profile.
      const token = await mintToken(w.server.secret, ana, { name: "Ana" });
      const conv = await w.conversation([sam, ana]);
      expect((await api(w.server.url, token).get("/v1/conversations")).status).toBe(200);
      const profileOfAna = async () => (await w.admin.get(`/v1/users/${ana}/profile`)).json.profile;
      await eventually(async () => (await profileOfAna())?.name === "Ana").catch(() => undefined);
      expect(await profileOfAna()).toEqual({ name: "Ana", picture: null });
      await (await w.as(sam)).post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "p",
        body: "hi",
      });
      const both = {
        [sam]: { name: "Sam", picture: "https://example.com/sam.png" },
        [ana]: { name: "Ana", picture: null },
      };
      const reader = api(w.server.url, token);
      expect((await reader.get(`/v1/conversations/${conv}/messages`)).json.users).toEqual({
        [sam]: both[sam],
      });
      expect((await reader.get(`/v1/conversations/${conv}/log`)).json.users).toEqual({ [sam]: both[sam] });
      expect((await reader.get(`/v1/conversations/${conv}`)).json.users).toEqual(both);
      expect((await reader.get("/v1/conversations")).json.users).toEqual(both);
    });

    scenario("auth refusals", async () => {
      const conv = await w.conversation(["ann"]);
      const outsider = await w.as("zed");
      expectError(await outsider.get(`/v1/conversations/${conv}/messages`), 403, "forbidden");
      expectError(
        await outsider.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "x", body: "intruder" }),
        403,
        "forbidden",
      );
      expect((await (await w.as("ann")).get(`/v1/conversations/${conv}/messages`)).json.lastSeq).toBe(0);
      const noToken = await fetch(`${w.server.url}/v1/conversations/${conv}/messages`);
      expect(noToken.status).toBe(401);
      const socket = await w.socket("zed", conv);
      expect((await socket.closed).code).toBe(4003);
      const missing = await w.socket("ann", uid("missing"));
      expect((await missing.closed).code).toBe(4004);
      // A name no conversation can have: the same close code, not an HTTP refusal a browser cannot read.
      for (const invalid of ["has.dot", "x".repeat(65), "sp%20ace"]) {
        const refused = await w.socket("ann", invalid);
        expect((await refused.closed).code, invalid).toBe(4004);
      }
    });

    scenario("inbox flood", async () => {
      // More frames than the burst allows (200 by default), at once: the inbox closes with 4008.
      // Not pings: on the edge the runtime answers those itself without waking the object.
      const owner = uid("flood");
      await w.conversation([owner]);
      const inbox = await w.inbox(owner);
      await inbox.opened;
      for (let i = 0; i < 400; i++) inbox.send({ type: "read", seq: 1 });
      expect((await inbox.closed).code).toBe(4008);
      // It may come back: a new inbox socket of the same user is accepted.
      const again = await w.inbox(owner);
      await again.opened;
      again.send({ type: "ping" });
      await again.waitFor((f) => f.type === "pong");
    });

    scenario("member removed", async () => {
      // The removed member's inbox is told to drop the row (no thread frame can say so: a
      // removed user gets none), hears nothing more of the conversation, and hears of it again
      // when added back; the member who stays sees the new member list.
      const [stays, removed] = [uid("mr"), uid("mr")];
      const conv = await w.conversation([stays, removed]);
      const [staysInbox, removedInbox] = [await w.inbox(stays), await w.inbox(removed)];
      await Promise.all([staysInbox.opened, removedInbox.opened]);
      const poster = await w.as(stays);
      await poster.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "m1", body: "one" });
      // Both inboxes listen (on the edge: registered with the room) once they hear of message 1.
      for (const inbox of [staysInbox, removedInbox])
        await inbox.waitFor(
          (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 1,
        );

      expect((await w.admin.del(`/v1/conversations/${conv}/members/${removed}`)).status).toBe(204);
      const told = await removedInbox.waitFor((f) => f.type === "thread_removed");
      expect(told).toEqual({ type: "thread_removed", conversationId: conv });
      await staysInbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.members.length === 1,
      );
      const list = await (await w.as(removed)).get("/v1/conversations");
      expect(list.json.conversations.map((c: { id: string }) => c.id)).not.toContain(conv);

      await poster.post(`/v1/conversations/${conv}/messages`, { clientMessageId: "m2", body: "two" });
      await staysInbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 2,
      );
      await sleep(300); // past the thread frames' coalescing window (100 ms)
      expect(
        removedInbox.frames.filter((f) => f.type === "thread" && f.conversation.lastSeq === 2),
        "a removed member's inbox heard of a later message",
      ).toEqual([]);

      expect((await w.admin.put(`/v1/conversations/${conv}/members/${removed}`)).status).toBe(204);
      const back = await removedInbox.waitFor(
        (f) => f.type === "thread" && f.conversation.id === conv && f.conversation.lastSeq === 2,
      );
      expect(back.conversation.members).toContain(removed);
    });

    scenario("message changes", async () => {
      // Edit, react and delete as log entries: the live socket gets each change frame once, a
      // resume after the first message gets them in order, and /log shows the latest state.
      const conv = await w.conversation(["ann", "bob"]);
      const ann = await w.as("ann");
      const bob = await w.synced("bob", conv);
      const posted = await ann.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "c1",
        body: "draft",
      });
      expect(posted.status).toBe(201);
      const seq = posted.json.message.seq as number;
      const edited = await ann.request("PATCH", `/v1/conversations/${conv}/messages/${seq}`, {
        body: "final",
      });
      expect(edited.json.message.body).toBe("final");
      const bobApi = await w.as("bob");
      expect((await bobApi.put(`/v1/conversations/${conv}/messages/${seq}/reactions/ok`)).status).toBe(200);
      expect((await ann.del(`/v1/conversations/${conv}/messages/${seq}`)).json.message.deleted).toBe(true);
      const changes = await bob.until(() => {
        const seen = bob.ofType("change");
        return seen.length >= 3 ? seen : undefined;
      }, 10_000);
      expect(changes.map((f) => f.change.kind)).toEqual(["edit", "react", "delete"]);
      expect(changes.map((f) => f.change.seq)).toEqual([seq + 1, seq + 2, seq + 3]);
      const resumed = await w.synced("bob", conv, { after: seq });
      expect(resumed.ofType("change").map((f) => f.change.kind)).toEqual(["edit", "react", "delete"]);
      expect(JSON.stringify(resumed.ofType("change"))).not.toContain("final");
      const log = await bobApi.get(`/v1/conversations/${conv}/log?after=0`);
      expect(log.json.lastSeq).toBe(seq + 3);
      expect(log.json.entries[0].message).toMatchObject({ deleted: true, body: "" });
    });

    scenario("crash safety", async () => {
      const conv = await w.conversation(["ann"]);
      const ann = await w.as("ann");
      for (const i of range(1, 10)) {
        expect(
          (await ann.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `c${i}`, body: `${i}` }))
            .status,
        ).toBe(201);
      }
      await w.server.kill();
      await w.server.restart();
      const retry = await ann.post(`/v1/conversations/${conv}/messages`, {
        clientMessageId: "c10",
        body: "10",
      });
      expect(retry.status).toBe(200);
      expect((await history(ann, conv)).map((m) => m.seq)).toEqual(range(1, 10));
    });
  });
}
