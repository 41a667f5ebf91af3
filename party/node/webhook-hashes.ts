/**
 * Webhook hashes with node:crypto, synchronous: a delivery's HMAC and id digest take a few
 * microseconds here, where WebCrypto's asynchronous jobs cost the event loop far more (issue 17:
 * with an endpoint answering, sends/s fell to half). Same bytes as the WebCrypto ones
 * (test/unit/webhook-hashes.test.ts).
 */
import { createHash, createHmac } from "node:crypto";
import type { WebhookHashes } from "../host/webhooks/hashes.ts";
import { secretKeyBytes } from "../host/webhooks/signature.ts";

/** Key bytes by secret: decoded once (a handful of endpoints; cleared at a cap, as signature.ts does). */
const keys = new Map<string, Uint8Array>();

function keyOf(secret: string): Uint8Array {
  let key = keys.get(secret);
  if (!key) {
    key = secretKeyBytes(secret);
    if (!key) throw new Error("not a whsec_ secret of 24 to 64 bytes");
    if (keys.size >= 1_000) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

export const nodeWebhookHashes: WebhookHashes = {
  sign: (secret, content) => createHmac("sha256", keyOf(secret)).update(content, "utf8").digest("base64"),
  idDigest: (text) =>
    createHash("sha256").update(text, "utf8").digest().subarray(0, 18).toString("base64url"),
};
