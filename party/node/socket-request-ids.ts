/**
 * Request ids for socket upgrades that came without one. A socket keeps its upgrade's id for
 * the log lines of its whole life (its close, its errors), and a UUID string is ~56 B of live
 * heap per idle socket (issue 17). So a socket keeps a number, and the id's text is made when
 * a line is logged: a UUID in the version 4 layout whose first 96 bits are the process's own
 * (90 random, 6 the version and variant) and whose last 32 count this process's upgrades. Two
 * processes collide with odds of 2^-90, and no two upgrades of one process share an id (until
 * 2^32 of them).
 */
import { randomBytes } from "node:crypto";

/** The process's random part: `xxxxxxxx-xxxx-4xxx-yxxx-xxxx`, version and variant set. */
const prefix = (() => {
  const hex = randomBytes(12).toString("hex");
  const variant = ((Number.parseInt(hex.charAt(15), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-${hex.slice(19, 23)}`;
})();

let upgrades = 0;

/** A new socket request id, as a number (Smi-sized for the first 2^31 upgrades of a process). */
export function nextSocketRequestId(): number {
  upgrades = (upgrades + 1) % 0x1_0000_0000;
  return upgrades;
}

/** A request id's text: a number from `nextSocketRequestId`, or a client's own id as is. */
export function requestIdText(id: string | number): string {
  return typeof id === "string" ? id : prefix + id.toString(16).padStart(8, "0");
}
