// Every finding code: a case that triggers it and a near case that must not, plus the code table staying in step
// with docs/analysis-codes.md.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CODES } from "../../src/api/codes.js";
import { codes, findingsFor, REVIEWS_DR } from "./fixtures.js";
import { createTestCa, issueCert } from "../fixtures/gateway-certs.js";

const vs = (spec: string, name = "reviews", extra = "") => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}${extra}}\nspec:\n${spec}`;
const dr = (spec: string, name = "dr") => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const pa = (spec: string, name = "pa", namespace = "default") => `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${spec}`;
const ap = (spec: string, name = "ap") => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const gw = (servers: string, name = "ingress", selector = "istio: ingressgateway") => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ${name}}\nspec:\n  selector: {${selector}}\n  servers:\n${servers}`;
const http80 = (hosts: string) => `  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [${hosts}]`;
const https443 = (cred: string) => `  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: SIMPLE, credentialName: ${cred}}`;
const bound = (host: string) => vs(`  hosts: [${host}]\n  gateways: [ingress]\n  http: [{route: [{destination: {host: reviews}}]}]`, "bound");
const se = (spec: string, name = "se") => `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const sidecar = (spec: string, name: string) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const claimVs = vs("  hosts: [shop.example.com]\n  gateways: [ingress]\n  http:\n  - match: [{headers: {\"@request.auth.claims.group\": {exact: admin}}}]\n    route: [{destination: {host: reviews}}]", "claims");
const gatewayRa = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: istio-system}\nspec:\n  selector: {matchLabels: {istio: ingressgateway}}\n  jwtRules: [{issuer: https://issuer.example.com}]";
const ingressService = "apiVersion: v1\nkind: Service\nmetadata: {name: istio-ingressgateway, namespace: istio-system}\nspec: {selector: {istio: ingressgateway}, ports: [{port: 80, targetPort: 8080, name: http}]}";
const telemetry = (spec: string, name: string) => `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const routeTo = (subset: string, weight = "") => `    - destination: {host: reviews, subset: ${subset}}${weight ? `\n      weight: ${weight}` : ""}`;

const injectedNs = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}";
const shopDeployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {metadata: {labels: {app: web}}}}";
const shopService = (name: string, port: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: shop}\nspec: {selector: {app: web}, ports: [${port}]}`;

const ca = await createTestCa();
const [shopCert, oldCert] = [await issueCert(ca, ["shop.example.com"]), await issueCert(ca, ["shop.example.com"], 60_000, new Date(Date.now() - 3600_000))];
const b64 = (t: string) => Buffer.from(t).toString("base64");
const tlsSecret = (name: string, pair: { certPem: string; keyPem: string }) => `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: istio-system}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64(pair.certPem)}, tls.key: ${b64(pair.keyPem)}}`;

interface Case {
  code: string;
  bad: string;
  near: string;
}

const CASES: Case[] = [
  { code: "TRL0001", bad: "a: [1, 2\nb: c", near: "a: [1, 2]" },
  { code: "TRL0002", bad: "- just\n- a list", near: vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]") },
  { code: "TRL0003", bad: "apiVersion: security.istio.io/v1alpha1\nkind: PeerAuthentication\nmetadata: {name: x}\nspec: {}", near: "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: x}\nspec: {}" },
  { code: "TRL0004", bad: "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: x}\nspec: {}", near: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}" },
  { code: "TRL0005", bad: `${vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]")}\n---\n${vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]")}`, near: `${vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]")}\n---\n${vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]", "reviews", ", namespace: other")}` },
  { code: "TRL0006", bad: "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: x}\nspec:\n  hosts: [\"*.example.com\"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DYNAMIC_DNS", near: "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: x}\nspec:\n  hosts: [\"*.example.com\"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: NONE" },
  { code: "TRL0010", bad: vs("  hosts: [reviews]\n  htpp: []"), near: vs("  hosts: [reviews]\n  http: []") },
  { code: "TRL0011", bad: vs("  hosts: reviews"), near: vs("  hosts: [reviews]") },
  { code: "TRL0012", bad: vs("  hosts: [reviews]\n  tcp:\n  - route:\n    - weight: 100"), near: vs("  hosts: [reviews]\n  tcp:\n  - route:\n    - destination: {host: reviews}") },
  { code: "TRL0013", bad: dr("  host: reviews\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBN}}"), near: dr("  host: reviews\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}") },
  { code: "TRL0014", bad: vs("  hosts: [reviews]\n  http:\n  - timeout: 5 s\n    route:\n    - destination: {host: reviews}"), near: vs("  hosts: [reviews]\n  http:\n  - timeout: 1m30s\n    route:\n    - destination: {host: reviews}") },
  { code: "TRL0015", bad: vs("  hosts: [\"re*views\"]"), near: vs("  hosts: [\"*.default.svc.cluster.local\"]") },
  { code: "TRL0016", bad: dr("  host: reviews\n  subsets:\n  - {name: v1, labels: {version: \"-v1-\"}}"), near: dr("  host: reviews\n  subsets:\n  - {name: v1, labels: {app.kubernetes.io/version: v1}}") },
  { code: "TRL0017", bad: ap("  rules:\n  - from:\n    - source: {ipBlocks: [\"10.0.0.0/33\"]}"), near: ap("  rules:\n  - from:\n    - source: {ipBlocks: [\"10.0.0.0/8\", \"192.168.1.7\"]}") },
  { code: "TRL0018", bad: pa("  portLevelMtls:\n    \"70000\": {mode: DISABLE}\n  selector: {matchLabels: {app: reviews}}"), near: pa("  portLevelMtls:\n    \"9080\": {mode: DISABLE}\n  selector: {matchLabels: {app: reviews}}") },
  { code: "TRL0019", bad: vs("  hosts: [reviews]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n    route:\n    - destination: {host: reviews}"), near: vs("  hosts: [reviews]\n  http:\n  - match:\n    - uri: {prefix: /b}\n    route:\n    - destination: {host: reviews}") },
  { code: "TRL0020", bad: vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      weight: 3000000000"), near: vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      weight: 100") },
  { code: "TRL0021", bad: dr("  host: reviews\n  trafficPolicy: {outlierDetection: {consecutiveErrors: 5}}"), near: dr("  host: reviews\n  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 5}}") },
  { code: "TRL1001", bad: `${REVIEWS_DR}\n---\n${vs(`  hosts: [reviews]\n  http:\n  - route:\n${routeTo("v1", "0")}\n${routeTo("v2", "0")}`)}`, near: `${REVIEWS_DR}\n---\n${vs(`  hosts: [reviews]\n  http:\n  - route:\n${routeTo("v1", "5")}\n${routeTo("v2", "0")}`)}` },
  { code: "TRL1002", bad: `${REVIEWS_DR}\n---\n${vs(`  hosts: [reviews]\n  http:\n  - route:\n${routeTo("v3")}`)}`, near: `${REVIEWS_DR}\n---\n${vs(`  hosts: [reviews]\n  http:\n  - route:\n${routeTo("v2")}`)}` },
  { code: "TRL1003", bad: dr("  host: reviews\n  subsets:\n  - {name: v3, labels: {version: v3}}"), near: dr("  host: reviews\n  subsets:\n  - {name: v2, labels: {version: v2}}") },
  { code: "TRL1004", bad: `${vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]")}\n---\n${vs("  hosts: [reviews.default.svc.cluster.local]\n  http: [{route: [{destination: {host: reviews}}]}]", "reviews-2")}`, near: `${vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]")}\n---\n${vs("  hosts: [ratings]\n  http: [{route: [{destination: {host: reviews}}]}]", "ratings")}` },
  { code: "TRL1005", bad: vs("  hosts: [bookinfo.example.com]\n  gateways: [bookinfo-gateway]\n  http: [{route: [{destination: {host: reviews}}]}]"), near: `${vs("  hosts: [bookinfo.example.com]\n  gateways: [bookinfo-gateway]\n  http: [{route: [{destination: {host: reviews}}]}]")}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bookinfo-gateway}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]` },
  { code: "TRL1006", bad: vs("  hosts: [reveiws]\n  http: [{route: [{destination: {host: reviews}}]}]"), near: vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]") },
  { code: "TRL1007", bad: vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reveiws}"), near: vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: ratings}") },
  { code: "TRL1008", bad: ap("  selector: {matchLabels: {app: ratingz}}"), near: ap("  selector: {matchLabels: {app: ratings}}") },
  { code: "TRL1009", bad: `${pa("  mtls: {mode: STRICT}", "a")}\n---\n${pa("  mtls: {mode: PERMISSIVE}", "b")}`, near: `${pa("  mtls: {mode: STRICT}", "a")}\n---\n${pa("  mtls: {mode: PERMISSIVE}\n  selector: {matchLabels: {app: reviews}}", "b")}` },
  { code: "TRL1010", bad: `${pa("  mtls: {mode: STRICT}", "default", "istio-system")}\n---\n${dr("  host: reviews\n  trafficPolicy: {tls: {mode: DISABLE}}")}`, near: `${pa("  mtls: {mode: STRICT}", "default", "istio-system")}\n---\n${dr("  host: reviews\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}")}` },
  { code: "TRL1011", bad: dr("  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v1, labels: {version: v2}}"), near: dr("  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}") },
  { code: "TRL1012", bad: "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s}\nspec:\n  egress:\n  - hosts: [\"default/reveiws.default.svc.cluster.local\"]", near: "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s}\nspec:\n  egress:\n  - hosts: [\"./*\", \"default/reviews.default.svc.cluster.local\"]" },
  { code: "TRL1013", bad: `${REVIEWS_DR}\n---\n${dr("  host: reviews.default.svc.cluster.local\n  subsets:\n  - {name: v1, labels: {version: v1}}", "reviews-again")}`, near: `${REVIEWS_DR}\n---\n${dr("  host: ratings\n  subsets:\n  - {name: v1, labels: {version: v1}}", "ratings")}` },
  { code: "TRL1014", bad: `${gw(http80("shop.example.com"))}\n---\n${bound("blog.example.com")}`, near: `${gw(http80("\"*.example.com\""))}\n---\n${bound("blog.example.com")}` },
  { code: "TRL1015", bad: `${gw(http80("shop.example.com"))}\n---\n${gw(http80("\"*.example.com\""), "other")}`, near: `${gw(http80("shop.example.com"))}\n---\n${gw(http80("blog.example.com"), "other")}` },
  { code: "TRL1015", bad: `${gw(http80("shop.example.com"))}\n---\n${gw(http80("shop.example.com"), "other", "istio: ingressgateway, tier: edge")}`, near: `${gw(http80("shop.example.com"))}\n---\n${gw(http80("shop.example.com"), "other", "istio: egressgateway, tier: edge")}` },
  { code: "TRL1016", bad: `${gw(https443("shop-cert"))}\n---\n${gw(https443("shop-cert"), "other")}`, near: `${gw(https443("shop-cert"))}\n---\n${gw(https443("blog-cert"), "other")}` },
  { code: "TRL1017", bad: gw(http80("shop.example.com"), "ingress", "istio: ingresgateway"), near: gw(http80("shop.example.com")) },
  { code: "TRL1020", bad: dr("  host: reviews\n  trafficPolicy: {tls: {mode: SIMPLE}}"), near: dr("  host: reviews\n  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem}}") },
  { code: "TRL1021", bad: dr("  host: reviews\n  trafficPolicy:\n    portLevelSettings: [{port: {number: 9443}, tls: {mode: SIMPLE}}]"), near: dr("  host: reviews\n  trafficPolicy:\n    portLevelSettings: [{port: {number: 9443}, tls: {mode: ISTIO_MUTUAL}}]") },
  { code: "TRL1022", bad: dr("  host: reveiws"), near: dr("  host: reviews") },
  { code: "TRL1023", bad: `${sidecar("  egress: [{hosts: [\"./*\"]}]", "a")}\n---\n${sidecar("  egress: [{hosts: [\"istio-system/*\"]}]", "b")}`, near: `${sidecar("  egress: [{hosts: [\"./*\"]}]", "a")}\n---\n${sidecar("  workloadSelector: {labels: {app: reviews}}\n  egress: [{hosts: [\"istio-system/*\"]}]", "b")}` },
  { code: "TRL1033", bad: sidecar("  workloadSelector: {labels: {app: reveiws}}\n  egress: [{hosts: [\"./*\"]}]", "a"), near: sidecar("  workloadSelector: {labels: {app: reviews}}\n  egress: [{hosts: [\"./*\"]}]", "a") },
  { code: "TRL1034", bad: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {sidecar.istio.io/injekt: \"false\"}}\nspec: {containers: [{name: app, image: x}]}", near: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {sidecar.istio.io/proxyCPU: 100m}}\nspec: {containers: [{name: app, image: x}]}" },
  { code: "TRL1035", bad: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, annotations: {sidecar.istio.io/proxyCPU: 100m}}\nspec: {template: {metadata: {labels: {app: d}}}}", near: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {metadata: {labels: {app: d}, annotations: {sidecar.istio.io/proxyCPU: 100m}}}}" },
  { code: "TRL1036", bad: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {traffic.sidecar.istio.io/excludeOutboundIPRanges: \"10.0.0.0/33\"}}\nspec: {containers: [{name: app, image: x}]}", near: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {traffic.sidecar.istio.io/excludeOutboundIPRanges: \"10.0.0.0/8,fd00::/8\"}}\nspec: {containers: [{name: app, image: x}]}" },
  { code: "TRL1037", bad: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {sidecar.istio.io/inject: \"false\"}}\nspec: {containers: [{name: app, image: x}]}", near: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {sidecar.istio.io/inject: \"false\"}, annotations: {sidecar.istio.io/inject: \"false\"}}\nspec: {containers: [{name: app, image: x}]}" },
  { code: "TRL1038", bad: "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {selector: {app: web}, ports: [{port: 8080, name: web}]}", near: "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {selector: {app: web}, ports: [{port: 8080, name: web, appProtocol: http}, {port: 3306, name: db}, {port: 9090, name: http-metrics}]}" },
  { code: "TRL1039", bad: `${injectedNs}\n---\n${shopDeployment}\n---\n${shopService("a", "{port: 53, name: dns-tcp}")}\n---\n${shopService("b", "{port: 53, name: dns-udp, protocol: UDP}")}`, near: `${injectedNs}\n---\n${shopDeployment}\n---\n${shopService("a", "{port: 53, name: dns-tcp}")}\n---\n${shopService("b", "{port: 54, name: dns-udp, protocol: UDP}")}` },
  { code: "TRL1040", bad: `${injectedNs}\n---\n${shopDeployment}\n---\n${shopService("a", "{port: 80, name: http, targetPort: 8080}")}\n---\n${shopService("b", "{port: 8080, name: http-alt}")}`, near: `${injectedNs}\n---\n${shopDeployment}\n---\n${shopService("a", "{port: 80, name: http, targetPort: 8080}")}\n---\n${shopService("b", "{port: 8081, name: http-alt}")}` },
  { code: "TRL1041", bad: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}", near: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/rev: canary}}" },
  { code: "TRL1042", bad: `${injectedNs}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: app, image: x}]}`, near: `${injectedNs}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: app, image: x}, {name: istio-proxy, image: trellis/proxy}]}` },
  { code: "TRL1043", bad: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled, istio.io/rev: canary}}", near: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}" },
  { code: "TRL1044", bad: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: app, image: x, securityContext: {runAsUser: 1337}}]}", near: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: app, image: x, securityContext: {runAsUser: 1000}}, {name: istio-proxy, image: x, securityContext: {runAsUser: 1337}}]}" },
  { code: "TRL1045", bad: `${gw(https443("shop-cert"))}\n---\n${tlsSecret("other-cert", shopCert)}`, near: `${gw(https443("shop-cert"))}\n---\n${tlsSecret("shop-cert", shopCert)}` },
  { code: "TRL1046", bad: `${gw(https443("shop-cert"))}\n---\n${tlsSecret("shop-cert", oldCert)}`, near: `${gw(https443("shop-cert"))}\n---\n${tlsSecret("shop-cert", shopCert)}` },
  { code: "TRL1047", bad: telemetry("  selector: {matchLabels: {app: reveiws}}\n  tracing: [{randomSamplingPercentage: 10}]", "t"), near: telemetry("  selector: {matchLabels: {app: reviews}}\n  tracing: [{randomSamplingPercentage: 10}]", "t") },
  { code: "TRL1048", bad: "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: shop}\nspec: {type: ExternalName, externalName: db.example.com, ports: [{port: 443, name: tcp}]}", near: "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: shop}\nspec: {type: ExternalName, externalName: db.example.com, ports: [{port: 443, name: tls}]}" },
  { code: "TRL1024", bad: `${sidecar("  workloadSelector: {labels: {app: reviews}}\n  egress: [{hosts: [\"./*\"]}]", "a")}\n---\n${sidecar("  workloadSelector: {labels: {version: v1}}\n  egress: [{hosts: [\"./*\"]}]", "b")}`, near: `${sidecar("  workloadSelector: {labels: {app: reviews}}\n  egress: [{hosts: [\"./*\"]}]", "a")}\n---\n${sidecar("  workloadSelector: {labels: {app: ratings}}\n  egress: [{hosts: [\"./*\"]}]", "b")}` },
  { code: "TRL1025", bad: `${se("  hosts: [api.example.com]\n  ports: [{number: 8443, name: a, protocol: TLS}]\n  resolution: DNS", "a")}\n---\n${se("  hosts: [api.example.com]\n  ports: [{number: 8443, name: b, protocol: HTTPS}]\n  resolution: DNS", "b")}`, near: `${se("  hosts: [api.example.com]\n  ports: [{number: 8443, name: a, protocol: TLS}]\n  resolution: DNS", "a")}\n---\n${se("  hosts: [api.example.com]\n  ports: [{number: 9443, name: b, protocol: HTTPS}]\n  resolution: DNS", "b")}` },
  { code: "TRL1026", bad: se("  hosts: [db.example.com]\n  ports: [{number: 5432, name: pg, protocol: TCP}]\n  resolution: NONE"), near: se("  hosts: [db.example.com]\n  addresses: [10.1.2.3]\n  ports: [{number: 5432, name: pg, protocol: TCP}]\n  resolution: NONE") },
  { code: "TRL1027", bad: `${gw(http80("shop.example.com"))}\n---\n${claimVs}`, near: `${gw(http80("shop.example.com"))}\n---\n${claimVs}\n---\n${gatewayRa}` },
  { code: "TRL1028", bad: `${gw("  - port: {number: 9090, name: http, protocol: HTTP}\n    hosts: [shop.example.com]")}\n---\n${ingressService}`, near: `${gw("  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [shop.example.com]")}\n---\n${ingressService}` },
  { code: "TRL1029", bad: `${se("  hosts: [api.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 8080, name: alt, protocol: HTTP}]\n  resolution: DNS")}\n---\n${vs("  hosts: [api.example.com]\n  http: [{route: [{destination: {host: api.example.com}}]}]", "api")}`, near: `${se("  hosts: [api.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 8080, name: alt, protocol: HTTP}]\n  resolution: DNS")}\n---\n${vs("  hosts: [api.example.com]\n  http: [{route: [{destination: {host: api.example.com, port: {number: 8080}}}]}]", "api")}` },
  { code: "TRL1030", bad: vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews, port: {number: 9090}}}]}]"), near: vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]") },
  { code: "TRL1031", bad: `${telemetry("  tracing: [{randomSamplingPercentage: 10}]", "a")}\n---\n${telemetry("  accessLogging: [{providers: [{name: envoy}]}]", "b")}`, near: `${telemetry("  tracing: [{randomSamplingPercentage: 10}]", "a")}\n---\n${telemetry("  selector: {matchLabels: {app: reviews}}\n  accessLogging: [{providers: [{name: envoy}]}]", "b")}` },
  { code: "TRL1032", bad: `${telemetry("  selector: {matchLabels: {app: reviews}}\n  tracing: [{randomSamplingPercentage: 10}]", "a")}\n---\n${telemetry("  selector: {matchLabels: {version: v2}}\n  tracing: [{randomSamplingPercentage: 50}]", "b")}`, near: `${telemetry("  selector: {matchLabels: {app: reviews}}\n  tracing: [{randomSamplingPercentage: 10}]", "a")}\n---\n${telemetry("  selector: {matchLabels: {app: ratings}}\n  tracing: [{randomSamplingPercentage: 50}]", "b")}` },
  { code: "TRL1018", bad: vs("  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: reviews}}]"), near: vs("  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: reviews}}]\n  - route: [{destination: {host: reviews}}]") },
  { code: "TRL1019", bad: vs("  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: reviews}}]\n  - match: [{uri: {prefix: /a}}, {uri: {exact: /b}}]\n    route: [{destination: {host: reviews}}]"), near: vs("  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: reviews}}]\n  - match: [{uri: {exact: /b}}]\n    route: [{destination: {host: reviews}}]") },
];

for (const c of CASES) {
  test(`${c.code} ${CODES[c.code as keyof typeof CODES].name}: triggered, and not by the near case`, () => {
    assert.ok(codes(c.bad).includes(c.code), `expected ${c.code} in ${JSON.stringify(findingsFor(c.bad), null, 1)}`);
    assert.ok(!codes(c.near).includes(c.code), `did not expect ${c.code} in ${JSON.stringify(findingsFor(c.near), null, 1)}`);
  });
}

test("every code has a case here and a row in docs/analysis-codes.md", () => {
  const doc = readFileSync("docs/analysis-codes.md", "utf8");
  for (const [code, info] of Object.entries(CODES)) {
    assert.ok(CASES.some((c) => c.code === code), `no test case for ${code}`);
    assert.match(doc, new RegExp(`\\| ${code} \\| ${info.level} \\| ${info.name} \\|`), `docs/analysis-codes.md lacks the row for ${code}`);
    const ist = (info as { ist?: string }).ist;
    if (ist) assert.match(doc, new RegExp(`\\| ${code} \\|.*${ist}.*\\|$`, "m"), `docs/analysis-codes.md does not give ${code}'s Istio code ${ist}`);
  }
});

test("findings carry level, resource, field path and source line", () => {
  const f = findingsFor(vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n    timeout: soon"), false).find((x) => x.code === "TRL0014")!;
  assert.deepEqual({ level: f.level, resource: f.resource, path: f.path, source: f.source }, {
    level: "Error", resource: { kind: "VirtualService", namespace: "default", name: "reviews" }, path: "spec.http[0].timeout", source: { file: "case.yaml", line: 9 },
  });
  assert.match(f.message, /"soon" is not a duration; write it like "10s"/);
});

test("checks that need services or workloads are skipped when none are known", () => {
  assert.deepEqual(codes(vs("  hosts: [reveiws]\n  http:\n  - route:\n    - destination: {host: nowhere}"), false), []);
  assert.deepEqual(codes(ap("  selector: {matchLabels: {app: ratingz}}"), false), []);
});
