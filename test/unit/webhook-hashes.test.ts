/**
 * Node's webhook hashes (party/node/webhook-hashes.ts, node:crypto) give the same bytes as the
 * WebCrypto ones every other runtime uses: the same `webhook-signature` (which `verifyWebhook`
 * accepts) and the same `webhook-id`s, so a restart on another runtime delivers the same ids.
 */
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { entryEvent } from "../../party/host/webhooks/events.ts";
import { webCryptoHashes } from "../../party/host/webhooks/hashes.ts";
import { signedHeaders, verifyWebhook } from "../../party/host/webhooks/signature.ts";
import { nodeWebhookHashes } from "../../party/node/webhook-hashes.ts";
import type { LogEntry } from "../../protocol/index.ts";

const secret = `whsec_${randomBytes(32).toString("base64")}`;

it("signs as WebCrypto does, and verifyWebhook accepts it", async () => {
  for (const body of ["", "{}", `{"text":"héllo 👋 ${"x".repeat(5_000)}"}`]) {
    const content = `msg_abc.1700000000.${body}`;
    expect(nodeWebhookHashes.sign(secret, content)).toBe(await webCryptoHashes.sign(secret, content));
    const headers = await signedHeaders(secret, "msg_abc", 1_700_000_000, body, nodeWebhookHashes.sign);
    if (body)
      await expect(verifyWebhook(secret, headers, body, { now: 1_700_000_000_000 })).resolves.toBeDefined();
  }
  expect(() => nodeWebhookHashes.sign("whsec_short", "x")).toThrow(/whsec_/);
});

it("derives the same webhook-ids", async () => {
  for (const text of ["app\u0000conv\u0000seq:1", "ä\u0000会話\u0000event:42", ""]) {
    const node = nodeWebhookHashes.idDigest(text);
    expect(node).toBe(await webCryptoHashes.idDigest(text));
    expect(node).toMatch(/^[A-Za-z0-9_-]{24}$/);
  }
  const entry = {
    type: "message",
    message: { seq: 7, senderId: "u1", createdAt: "2026-12-01T00:00:00.000Z" },
  } as unknown as LogEntry;
  const recipients = () => ({ online: [], offline: [] });
  const viaNode = await entryEvent("app", "conv", entry, recipients, nodeWebhookHashes);
  const viaWeb = await entryEvent("app", "conv", entry, recipients);
  expect(viaNode).toEqual(viaWeb);
});
