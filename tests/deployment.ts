/**
 * Test support: a whole deployment on loopback, made with the real admin tool and run as real
 * server and relay processes, with recording proxies on the wires. One import for the tests; each
 * concept lives in its own module.
 *
 * @module
 */

export * from "./test_site.ts";
export * from "./role_processes.ts";
export * from "./server_metrics.ts";
export * from "./report_outcomes.ts";
export * from "./test_senders.ts";
export * from "./listed_computers.ts";
export { freePort } from "./run_role.ts";
export { RecordingProxy } from "./recording_proxy.ts";
