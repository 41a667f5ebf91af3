/**
 * `npm run test:chaos` (= `tsx test/chaos/run.ts`): the full-size chaos run. Size knobs from the
 * environment: CHAOS_KILLS (default 20), CHAOS_RATE sends/s (200), CHAOS_CONVERSATIONS (50),
 * CHAOS_SECONDS (60), CHAOS_SUBSCRIBERS per conversation (2). Prints progress on stderr and ONE
 * line of counts on stdout; exits 1 when the checker found a violation.
 */
import { chaosLine, isClean, optionsFromEnv, runChaos } from "./workload.ts";

const opts = optionsFromEnv(process.env, {
  kills: 20,
  rate: 200,
  conversations: 50,
  seconds: 60,
  subscribers: 2,
});
console.error(
  `chaos run: ${opts.kills} kills, ${opts.rate} sends/s over ${opts.conversations} conversations for ${opts.seconds} s`,
);
try {
  const result = await runChaos({ ...opts, log: (line) => console.error(line) });
  console.log(chaosLine(result));
  process.exit(isClean(result) ? 0 : 1);
} catch (error) {
  console.error("chaos run failed:", error);
  process.exit(2);
}
