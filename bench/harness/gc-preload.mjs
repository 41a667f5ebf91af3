// Preloaded (NODE_OPTIONS="--expose-gc --import …") into every server the bench starts, so that
// the memory metrics can ask a process for a full GC before they read its memory:
// `kill -USR2 <pid>`. After the GC it writes its live JavaScript memory (the V8 heap in use, and
// the memory of Buffers and other external objects) to `<tmpdir>/parley-bench-heap-<pid>.json`,
// which VmRSS does not show apart from the free pages a heap keeps.
// Signal listeners do not keep the process alive.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

process.on("SIGUSR2", () => {
  if (typeof globalThis.gc !== "function") return;
  globalThis.gc();
  globalThis.gc();
  const { heapUsed, external } = process.memoryUsage();
  try {
    writeFileSync(
      join(tmpdir(), `parley-bench-heap-${process.pid}.json`),
      JSON.stringify({ heapUsed, external }),
    );
  } catch {
    // the bench then reports the heap as unknown
  }
});
