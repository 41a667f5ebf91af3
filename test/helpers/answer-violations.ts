/**
 * What the contract suite's validating proxies (answer-check-proxy.ts) found, gathered for the
 * check after each test (test/answer-check.setup.ts). Kept apart from the proxy so that the
 * setup file, which every test file loads, does not load Prism.
 */

/** An answer the document does not allow. */
export interface Violation {
  request: string;
  status: number;
  problems: string[];
}

/** Something that holds violations until asked (a running proxy). */
export interface ViolationSource {
  takeViolations(): Violation[];
}

const sources = new Set<ViolationSource>();
const unreported: Violation[] = [];

/** Starts gathering from a proxy. */
export function watchViolations(source: ViolationSource): void {
  sources.add(source);
}

/** Stops gathering from a proxy, keeping what it had not reported yet. */
export function unwatchViolations(source: ViolationSource): void {
  sources.delete(source);
  unreported.push(...source.takeViolations());
}

/** The answers the document did not allow since the last call, of every proxy of this file. */
export function takeAnswerViolations(): Violation[] {
  const taken = unreported.splice(0);
  for (const source of sources) taken.push(...source.takeViolations());
  return taken;
}
