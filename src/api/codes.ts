// Every finding code the analyzer emits: its level, its name, and the code istioctl analyze gives the same finding
// (`ist`), so users can search Istio's docs for it. docs/analysis-codes.md explains each; a test keeps the two in step.
import type { Level } from "./finding.js";

export const CODES = {
  TRL0001: { level: "Error", name: "ParseError" },
  TRL0002: { level: "Error", name: "InvalidObject" },
  TRL0003: { level: "Error", name: "UnsupportedApiVersion" },
  TRL0004: { level: "Warning", name: "UnsupportedKind" },
  TRL0005: { level: "Error", name: "DuplicateResource" },
  TRL0006: { level: "Warning", name: "NotImplementedByTrellis" },
  TRL0010: { level: "Error", name: "UnknownField", ist: "IST0106" },
  TRL0011: { level: "Error", name: "WrongType", ist: "IST0106" },
  TRL0012: { level: "Error", name: "MissingRequiredField", ist: "IST0106" },
  TRL0013: { level: "Error", name: "InvalidEnumValue", ist: "IST0106" },
  TRL0014: { level: "Error", name: "InvalidDuration", ist: "IST0106" },
  TRL0015: { level: "Error", name: "InvalidHost", ist: "IST0106" },
  TRL0016: { level: "Error", name: "InvalidLabel", ist: "IST0106" },
  TRL0017: { level: "Error", name: "InvalidCidr", ist: "IST0106" },
  TRL0018: { level: "Error", name: "InvalidPort", ist: "IST0106" },
  TRL0019: { level: "Error", name: "ConflictingFields", ist: "IST0106" },
  TRL0020: { level: "Error", name: "InvalidValue", ist: "IST0106" },
  TRL0021: { level: "Warning", name: "ValidationWarning", ist: "IST0133" },
  TRL1001: { level: "Error", name: "RouteWeightsAllZero", ist: "IST0106" },
  TRL1002: { level: "Error", name: "SubsetNotDefined", ist: "IST0101" },
  TRL1003: { level: "Warning", name: "SubsetMatchesNoWorkload", ist: "IST0173" },
  TRL1004: { level: "Error", name: "ConflictingVirtualServiceHosts", ist: "IST0109" },
  TRL1005: { level: "Error", name: "GatewayNotFound", ist: "IST0101" },
  TRL1006: { level: "Warning", name: "VirtualServiceHostNotFound" },
  TRL1007: { level: "Error", name: "DestinationHostNotFound", ist: "IST0101" },
  TRL1008: { level: "Warning", name: "SelectorMatchesNothing", ist: "IST0127" },
  TRL1009: { level: "Error", name: "ConflictingPeerAuthentication" },
  TRL1010: { level: "Error", name: "DestinationRuleTlsConflict" },
  TRL1011: { level: "Error", name: "DuplicateSubsetName", ist: "IST0106" },
  TRL1012: { level: "Warning", name: "SidecarEgressHostNotFound" },
  TRL1013: { level: "Warning", name: "ConflictingDestinationRuleSubsets" },
  TRL1018: { level: "Warning", name: "VirtualServiceUnreachableRule", ist: "IST0130" },
  TRL1019: { level: "Info", name: "VirtualServiceIneffectiveMatch", ist: "IST0131" },
} as const satisfies Record<string, { level: Level; name: string; ist?: string }>;

export type Code = keyof typeof CODES;
