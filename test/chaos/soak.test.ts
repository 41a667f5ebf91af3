/**
 * The hostile soak of issue 12 in `npm test`: the same run as `npm run test:soak`, for 16 s with
 * a few of each attacker at a low upload rate, so that it stays light on a shared 2-core machine.
 * It asserts correctness only (nothing acknowledged lost, no gap, no duplicate, every reader
 * complete and in order, the relay alive); memory and latency are printed, not judged, here.
 */
import { afterAll, expect, it } from "vitest";
import { killAllServers } from "../helpers/server.ts";
import { correctnessFailures, formatReport, runSoak } from "./soak-run.ts";

afterAll(killAllServers);

it("a short hostile soak loses nothing acknowledged and leaves the relay serving", async () => {
  const report = await runSoak({
    seconds: 16,
    legit: { conversations: 2, rate: 6 },
    hostile: {
      historyNoRead: 2,
      wsResumes: 1,
      sseResumes: 1,
      uploaders: 1,
      longPolls: 20,
      flooders: 1,
      metaResenders: 1,
      slowloris: 1,
      inboxes: 2,
      busyRate: 2,
      seedMessages: 30,
      uploadRate: 5,
    },
    abortRssMb: 2048,
    afterCleanupMs: 500,
  });
  console.log(formatReport(report));
  expect(correctnessFailures(report)).toEqual([]);
  expect(report.sends.all.n, "the soak sent something (or the checks above prove nothing)").toBeGreaterThan(
    0,
  );
}, 60_000);
