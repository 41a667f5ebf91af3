/**
 * The two hashes of webhook delivery, as a seam: the `webhook-signature` (HMAC-SHA256) and the
 * `webhook-id` (SHA-256). The default is WebCrypto, which every runtime has. On Node each
 * WebCrypto call is an asynchronous job on libuv's thread pool with its argument checks and
 * promise around it, which cost more of the relay's event loop than the hashing itself: the Node
 * adapter passes synchronous node:crypto ones (node/webhook-hashes.ts), same bytes out.
 */
import { signatureOf } from "./signature.ts";

export interface WebhookHashes {
  /** Base64 HMAC-SHA256 of `content` keyed by a `whsec_…` secret (throws when it is not one). */
  sign(secret: string, content: string): string | Promise<string>;
  /** The first 18 bytes of SHA-256 of `text`, in base64url (24 characters). */
  idDigest(text: string): string | Promise<string>;
}

const encoder = new TextEncoder();

/** WebCrypto, for every runtime. */
export const webCryptoHashes: WebhookHashes = {
  sign: (secret, content) => signatureOf(secret, content),
  async idDigest(text) {
    const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
    let binary = "";
    for (const byte of new Uint8Array(digest).subarray(0, 18)) binary += String.fromCharCode(byte);
    return btoa(binary).replaceAll("+", "-").replaceAll("/", "_");
  },
};
