/**
 * Metric 5's load with the whole run in view: sends/s in the measured window (what metric 2
 * reports) says nothing of the deliveries, which the relay makes after each commit and which
 * compete with the sends for its CPU. A relay that delivered more slowly would look faster. So
 * the run also waits until every committed message has reached the endpoint, and reports the
 * sends/s of the whole run with every delivery made, and the relay's CPU per send over it.
 */
import { type HttpOptions, type HttpResult, runHttp } from "./http-load.ts";
import { cpuSeconds } from "./spawn.ts";
import type { Target } from "./target.ts";
import type { WebhookSink } from "./webhook-sink.ts";

/** The longest wait for the endpoint to receive every message after the load stopped. */
const DRAIN_LIMIT_MS = 120_000;

export interface WholeRun {
  /** Messages committed in the run (the relay's group-commit entries). */
  sends: number;
  /** From the first send to the last delivery (to the load's end without an endpoint). */
  wallMs: number;
  /** How long after the load stopped the endpoint had every message; 0 without an endpoint. */
  drainMs: number;
  /** `sends` over `wallMs`: sends/s with every delivery made. NaN when the endpoint never caught up. */
  sendsPerSec: number;
  /** The relay's CPU over the whole run, per send (its delivery included), µs. */
  cpuUsPerSend: number;
}

export async function runHttpWithDeliveries(
  target: Target,
  sink: WebhookSink | undefined,
  load: HttpOptions,
): Promise<{ result: HttpResult; whole?: WholeRun }> {
  const counters = target.commitCounters;
  if (!counters) return { result: await runHttp(target, load) };
  const entriesBefore = (await counters()).entries;
  const messagesBefore = sink?.messages ?? 0;
  const cpuBefore = cpuSeconds(target.server.pid);
  const started = performance.now();
  const result = await runHttp(target, load);
  const loadEnd = performance.now();
  const sends = (await counters()).entries - entriesBefore;
  let caughtUp = true;
  if (sink) {
    const giveUpAt = loadEnd + DRAIN_LIMIT_MS;
    while (sink.messages - messagesBefore < sends && performance.now() < giveUpAt)
      await new Promise((r) => setTimeout(r, 10));
    caughtUp = sink.messages - messagesBefore >= sends;
  }
  const end = performance.now();
  const cpu = cpuSeconds(target.server.pid) - cpuBefore;
  const wallMs = sink ? end - started : loadEnd - started;
  return {
    result,
    whole: {
      sends,
      wallMs,
      drainMs: sink ? end - loadEnd : 0,
      sendsPerSec: caughtUp ? sends / (wallMs / 1000) : Number.NaN,
      cpuUsPerSend: sends > 0 ? (cpu / sends) * 1e6 : Number.NaN,
    },
  };
}
