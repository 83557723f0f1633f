/**
 * The Prometheus metrics of the server and relays, made with `prom-client`: a registry per
 * process holding the process's own metrics (memory, event-loop lag), the answers of its public
 * app by route, status and error code, and whatever the role adds from its objects' counters.
 *
 * The roles keep their counters as plain numbers on their objects (cheap, and what the JSON
 * counters and tests read); {@linkcode countedFrom} and {@linkcode gaugedFrom} turn them into
 * metrics read at scrape time, so that the hot paths do no metrics work of their own.
 *
 * Every label value is bounded: routes are a fixed list, error codes must be of the wire catalogue
 * (`protocol/wire_error_codes.ts`).
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { type EventLoopLag, measureEventLoopLag } from "./event_loop_lag.ts";
import { processMemory } from "./process_metrics.ts";

export { Registry };

/** The prefix of every metric name. */
export const METRIC_PREFIX = "mle_";

/** The label values of one sample and its value. */
export type Sample = [labels: Record<string, string>, value: number];

const ERROR_CODE = /^ERR_[A-Z0-9_]{1,48}$/;

/**
 * A registry with the process metrics: `mle_process_resident_memory_bytes`,
 * `mle_process_peak_resident_memory_bytes`, `mle_process_heap_used_bytes`,
 * `mle_event_loop_lag_seconds` (the largest lag since the last scrape) and `mle_up_info{role,version}`.
 *
 * @example
 * ```ts
 * import { createMetricsRegistry } from "./metrics.ts";
 * const { registry, close } = createMetricsRegistry("relay", "1.0.0");
 * console.log((await registry.metrics()).includes("mle_process_resident_memory_bytes")); // true
 * close();
 * ```
 */
export function createMetricsRegistry(
  role: string,
  version: string,
): { registry: Registry; close(): void } {
  const registry = new Registry();
  const lag: EventLoopLag = measureEventLoopLag();
  const memory = () => processMemory();
  gaugedFrom(
    registry,
    "process_resident_memory_bytes",
    "Resident memory, in bytes",
    () => memory().rssBytes,
  );
  gaugedFrom(
    registry,
    "process_peak_resident_memory_bytes",
    "Peak resident memory since start, in bytes",
    () => memory().peakRssBytes,
  );
  gaugedFrom(
    registry,
    "process_heap_used_bytes",
    "V8 heap in use, in bytes",
    () => memory().heapUsedBytes,
  );
  gaugedFrom(
    registry,
    "event_loop_lag_seconds",
    "Largest delay of the event loop since the previous scrape, in seconds",
    () => lag.takeMax(),
  );
  const info = new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: "Always 1: the role and version of this process",
    labelNames: ["role", "version"],
    registers: [registry],
  });
  info.set({ role, version }, 1);
  return { registry, close: () => lag.stop() };
}

/**
 * A counter whose values are read from `read` at each scrape: one total (a number) or one per set
 * of labels. A value that went down (a restarted component) is taken as the new start.
 */
export function countedFrom(...[registry, name, help, read, labelNames = []]: ReadMetric): void {
  const seen = new Map<string, number>();
  new Counter({
    ...metricConfig(registry, name, help, labelNames),
    collect() {
      for (const [labels, total] of samplesOf(read)) {
        const key = JSON.stringify(labels);
        const delta = total - (seen.get(key) ?? 0);
        seen.set(key, total);
        // inc(0) still shows the series: a rate over it is 0, not absent.
        this.inc(labels, Math.max(0, delta));
      }
    },
  });
}

/** A gauge read from `read` at each scrape (one value, or one per set of labels). */
export function gaugedFrom(...[registry, name, help, read, labelNames = []]: ReadMetric): void {
  new Gauge({
    ...metricConfig(registry, name, help, labelNames),
    collect() {
      for (const [labels, current] of samplesOf(read)) this.set(labels, current);
    },
  });
}

/**
 * What {@linkcode countedFrom} and {@linkcode gaugedFrom} take: the registry, the name (without
 * the prefix), the help, what to read at each scrape and the label names (none by default).
 */
export type ReadMetric = [
  registry: Registry,
  name: string,
  help: string,
  read: () => number | Sample[],
  labelNames?: string[],
];

/** One reading as samples: a bare number is the one sample without labels. */
function samplesOf(read: () => number | Sample[]): Sample[] {
  const value = read();
  return typeof value === "number" ? [[{}, value]] : value;
}

/** The part of every metric's configuration that names and registers it. */
function metricConfig(registry: Registry, name: string, help: string, labelNames: string[]) {
  return { name: `${METRIC_PREFIX}${name}`, help, labelNames, registers: [registry] };
}

/** A histogram of durations in seconds, observed by the caller. */
export function durationHistogram(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[] = [],
): Histogram {
  return new Histogram({
    ...metricConfig(registry, name, help, labelNames),
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
}

/**
 * Counts the answers of a public app (`mle_http_requests_total{route,status,code}`, the code
 * being the `ERR_…` of a refusal or "none") and times them
 * (`mle_http_request_duration_seconds{route}`). For reports, `route="reports"` with its codes is
 * "reports accepted and refused by reason".
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { answerMetrics, Registry } from "./metrics.ts";
 * const registry = new Registry();
 * const app = new Hono();
 * app.use(answerMetrics(registry));
 * app.post("/api/v1/reports", (c) => c.json({ error: { code: "ERR_REPORT_INVALID", message: "no" } }, 400));
 * await app.request("/api/v1/reports", { method: "POST" });
 * console.log((await registry.metrics()).includes('code="ERR_REPORT_INVALID"')); // true
 * ```
 */
export function answerMetrics(registry: Registry): MiddlewareHandler {
  const answers = new Counter({
    name: `${METRIC_PREFIX}http_requests_total`,
    help: "Requests answered by the public listener, by route, status and error code",
    labelNames: ["route", "status", "code"],
    registers: [registry],
  });
  const durations = durationHistogram(
    registry,
    "http_request_duration_seconds",
    "Time to answer a request of the public listener (for reports: the ingest latency), by route",
    ["route"],
  );
  // One child per set of labels, looked up by a string key: prom-client would otherwise hash
  // the labels of every answer (a few µs each on the ingest path).
  const answerCounts = new Map<string, Counter.Internal>();
  const durationsByRoute = new Map<string, Histogram.Internal<string>>();
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = routeOf(c.req.path);
    let code = "none";
    const status = c.res.status;
    if (status >= 400 && c.res.headers.get("content-type")?.includes("application/json")) {
      try {
        const said = errorCodeOf(await c.res.clone().json());
        if (said !== null && ERROR_CODE.test(said)) code = said;
      } catch {
        // not an error body: "none"
      }
    }
    const key = `${route} ${status} ${code}`;
    let count = answerCounts.get(key);
    if (count === undefined) {
      count = answers.labels({ route, status: String(status), code });
      answerCounts.set(key, count);
    }
    count.inc();
    let duration = durationsByRoute.get(route);
    if (duration === undefined) {
      duration = durations.labels({ route });
      durationsByRoute.set(route, duration);
    }
    duration.observe((performance.now() - started) / 1000);
  };
}

/** The API's paths, longest first, each with its name: the first that matches is the route. */
const ROUTES: readonly [name: string, prefix: string][] = Object.entries(API)
  .sort(([, a], [, b]) => b.length - a.length);

/** The API name a path belongs to (`reports`, `uploads`, …), or "other": a bounded label. */
function routeOf(path: string): string {
  for (const [name, prefix] of ROUTES) {
    if (path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === "/")) {
      return name;
    }
  }
  return "other";
}
