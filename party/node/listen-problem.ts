/**
 * What to tell the person at the terminal when a server cannot listen where they asked: the
 * setting to change, by the reason the system gave (a port taken is not a bad host).
 */

/** One sentence naming HOST/PORT and the fix, for an error from `listen`. */
export function listenProblem(host: string, port: number, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const where = `HOST=${host} PORT=${port}`;
  switch (code) {
    case "EADDRINUSE":
      return `port ${port} is already in use on ${host} (another relay, or another program): stop it, or set PORT to a free port (PORT=0 picks one)`;
    case "EACCES":
    case "EPERM":
      return `not allowed to listen on ${where} (ports below 1024 need privileges): set PORT to 1024 or above`;
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `HOST=${host} is not an address of this machine (${code}): set HOST to one, such as 127.0.0.1, 0.0.0.0 or ::`;
    default:
      return `cannot listen on ${where} (${code || (error as Error).message}): set HOST to an address of this machine (127.0.0.1, 0.0.0.0, ::) and PORT to a free port`;
  }
}

/** Resolves when `port` on `host` can be listened on now; rejects with the reason it cannot. */
export async function checkListenable(host: string, port: number): Promise<void> {
  const { createServer } = await import("node:net");
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
