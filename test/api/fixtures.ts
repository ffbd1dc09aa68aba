// Shared inputs for the analyzer tests: a small Bookinfo-shaped mesh the semantic checks can see.
import { analyze } from "../../src/api/analyze.js";
import type { Finding } from "../../src/api/finding.js";
import { parseDocuments } from "../../src/api/load.js";

export const PLATFORM = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {selector: {app: reviews}, ports: [{port: 9080, name: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec: {selector: {app: ratings}, ports: [{port: 9080, name: http}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: default}
spec: {template: {metadata: {labels: {app: reviews, version: v1}}, spec: {serviceAccountName: bookinfo-reviews}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v2, namespace: default}
spec: {template: {metadata: {labels: {app: reviews, version: v2}}, spec: {serviceAccountName: bookinfo-reviews}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec: {template: {metadata: {labels: {istio: ingressgateway}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings-v1, namespace: default}
spec: {template: {metadata: {labels: {app: ratings, version: v1}}}}
`;

export const REVIEWS_DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

/** Findings for YAML text (with parse findings), optionally with the platform objects appended. */
export function findingsFor(yaml: string, withPlatform = true): Finding[] {
  const text = withPlatform ? `${yaml}\n---\n${PLATFORM}` : yaml;
  const loaded = parseDocuments(text, "case.yaml");
  return [...loaded.findings, ...analyze(loaded.resources, {}, loaded.others)];
}

export function codes(yaml: string, withPlatform = true): string[] {
  return findingsFor(yaml, withPlatform).map((f) => f.code);
}
