/**
 * The report a client sends: retrieved properties read from the machine, custom properties, and
 * the places for relevance results, action statuses and analyses.
 *
 * @module
 */

import { MAX_CUSTOM_PROPERTIES } from "./limits.ts";

/** A property value as reported. */
export type PropertyValue = string | number | boolean | string[] | null;

/** One report. */
export interface Report {
  computerId: number;
  seq: number;
  /** ISO time the report was made on the client. */
  createdAt: string;
  /** Retrieved properties (hostname, OS, memory, …). */
  properties: Record<string, PropertyValue>;
  /** Custom properties given by the operator (`--property NAME=VALUE`). */
  custom: Record<string, string>;
  /** Fixlet/Task/Baseline relevance results: id → relevant. */
  relevance: Array<{ id: string; relevant: boolean }>;
  /** Action statuses. */
  actionStatuses: Array<{ actionId: string; status: string }>;
  /** Analyses' property results. */
  analyses: Array<{ analysisId: string; property: string; values: string[] }>;
}

/**
 * Checks a decoded report against the envelope's claims and the shape above.
 *
 * @returns an error message, or null when the report is acceptable.
 */
export function checkReport(value: unknown, cid: number, seq: number): string | null {
  const report = value as Report;
  if (typeof report !== "object" || report === null || Array.isArray(report)) {
    return "report is not a JSON object";
  }
  if (report.computerId !== cid || report.seq !== seq) {
    return "report names another computer id or sequence than its envelope";
  }
  if (typeof report.createdAt !== "string" || report.createdAt.length > 64) {
    return "createdAt must be an ISO time";
  }
  if (typeof report.properties !== "object" || report.properties === null) {
    return "properties must be an object";
  }
  if (typeof report.custom !== "object" || report.custom === null) {
    return "custom must be an object";
  }
  if (Object.keys(report.custom).length > MAX_CUSTOM_PROPERTIES) {
    return "too many custom properties";
  }
  for (const list of ["relevance", "actionStatuses", "analyses"] as const) {
    if (!Array.isArray(report[list])) return `${list} must be an array`;
  }
  return null;
}
