/**
 * Fails a test whose HTTP answers the OpenAPI document does not allow: the contract suite's
 * servers answer through a validating proxy (test/helpers/answer-check-proxy.ts), and what it
 * recorded is checked after each test, and after each file for what its hooks caused.
 */
import { afterAll, afterEach, expect } from "vitest";
import { takeAnswerViolations } from "./helpers/answer-violations.ts";

const expectNone = () =>
  expect(takeAnswerViolations(), "answers the OpenAPI document does not allow").toEqual([]);
afterEach(expectNone);
afterAll(expectNone);
