import type { RelayConfig } from "../party/node/config.ts";

/** What a newcomer needs after `npm start`: the URL, the server key, and one curl that works. */
export function startupBanner(config: RelayConfig, url: string): string {
  const lines = [`Parley listening on ${url}`];
  if (config.production) return lines[0] ?? "";
  const key = config.apps[0]?.serverKey ?? "";
  lines.push(
    "",
    "  mode        development (set NODE_ENV=production for production)",
    `  database    ${config.dbUrl} (sync ${config.dbSync})`,
    `  server key  ${key}`,
    config.devSecretsFile
      ? `  secrets     ${config.devSecretsFile} (generated once, kept)`
      : "  secrets     from the environment",
    `  demo        ${url}/demo   (open it: two users chatting side by side)`,
    "",
    "  Try it:",
    `    curl -s -X POST ${url}/v1/conversations -H 'Authorization: Bearer ${key}' \\`,
    `      -H 'Content-Type: application/json' -d '{"id":"hello","members":["alice","bob"]}'`,
    `    TOKEN=$(curl -s '${url}/v1/dev/token?user=alice' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
    `    curl -s -X POST ${url}/v1/conversations/hello/messages -H "Authorization: Bearer $TOKEN" \\`,
    `      -H 'Content-Type: application/json' -d '{"clientMessageId":"m1","body":"Hello, Bob"}'`,
    `    curl -s ${url}/v1/conversations/hello/messages -H "Authorization: Bearer $TOKEN"`,
    "",
  );
  return lines.join("\n");
}
