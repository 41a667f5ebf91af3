/**
 * The Node gateway writes each outbound frame's WebSocket framing, built once, to every socket
 * (party/node/websocket-gateway.ts): it must be byte for byte what ws itself would write, at
 * every length encoding (7-bit, 16-bit and 64-bit payload lengths, RFC 6455 §5.2).
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { OutboundFrame } from "../../party/core/outbound-frame.ts";
import { wireFrameOf } from "../../party/node/websocket-gateway.ts";

// ws's Sender is not in its types; it is the framing the gateway must match.
const { Sender } = createRequire(import.meta.url)("ws") as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

const wsFraming = (bytes: Uint8Array) =>
  Buffer.concat(
    Sender.frame(Buffer.from(bytes), { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }),
  );

describe("the gateway's frames built once", () => {
  for (const length of [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 70_000]) {
    it(`match ws's framing for a ${length}-byte payload`, () => {
      const frame = new OutboundFrame("x".repeat(length));
      expect(frame.bytes.byteLength).toBe(length);
      const wire = wireFrameOf(frame);
      expect(wire.equals(wsFraming(frame.bytes))).toBe(true);
      // Built once per frame: the same buffer for every socket.
      expect(wireFrameOf(frame)).toBe(wire);
    });
  }
});
