/**
 * WebSocket close reasons are at most 123 bytes of UTF-8 (RFC 6455 §5.5: a control frame
 * carries 125, two of them for the code), and `ws` throws a RangeError past that. Cutting by
 * UTF-16 units is not enough: 120 units of "é" are 240 bytes. Cut by bytes, on a character
 * boundary, for every runtime.
 */
const MAX_REASON_BYTES = 123;
const encoder = new TextEncoder();

export function closeReason(reason: string): string {
  // Cheap path: a UTF-16 unit is at most 3 bytes of UTF-8.
  if (reason.length * 3 <= MAX_REASON_BYTES) return reason;
  let bytes = 0;
  let cut = "";
  for (const char of reason) {
    const size = encoder.encode(char).byteLength;
    if (bytes + size > MAX_REASON_BYTES) break;
    bytes += size;
    cut += char;
  }
  return cut;
}
