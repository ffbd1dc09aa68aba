// What the REST API answers when the Kubernetes API server refused a request made on its behalf: the API server's
// own status and reason where they mean the same to our client (403 forbidden by RBAC or admission, 404 a missing
// namespace, 409 a conflict, 422 a schema or webhook refusal, 429 throttled), 503 when it cannot be reached and 502
// for its own failures, never a bare 500 that hides whose fault it was.
import { KubeApiError } from "./client.js";

export interface RestStatus {
  code: number;
  reason: string;
  message: string;
}

const PASSED_ON = new Set([400, 403, 404, 409, 410, 422, 429]);

/** The REST status for an error from the Kubernetes API, or undefined when `err` is not one. */
export function restStatusOfKubeError(err: unknown): RestStatus | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  const message = `the Kubernetes API server refused it: ${err.message}`;
  if (err.status === 0) return { code: 503, reason: "ServiceUnavailable", message: `${err.message} (retry when the API server is back)` };
  if (PASSED_ON.has(err.status)) return { code: err.status, reason: err.reason.startsWith("HTTP ") ? reasonFor(err.status) : err.reason, message };
  return { code: 502, reason: "BadGateway", message };
}

function reasonFor(code: number): string {
  return { 400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 410: "Gone", 422: "Invalid", 429: "TooManyRequests" }[code] ?? "Unknown";
}
