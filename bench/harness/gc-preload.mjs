// Preloaded (NODE_OPTIONS="--expose-gc --import …") into both servers by the bench, so that the
// memory metric can ask either process for a full GC before it reads VmRSS: `kill -USR2 <pid>`.
// Signal listeners do not keep the process alive.
process.on("SIGUSR2", () => {
  if (typeof globalThis.gc === "function") {
    globalThis.gc();
    globalThis.gc();
  }
});
