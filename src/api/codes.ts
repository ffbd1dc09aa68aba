// Every finding code the analyzer emits: its level and name. docs/analysis-codes.md explains each; a test keeps the two in step.
import type { Level } from "./finding.js";

export const CODES = {
  TRL0001: { level: "Error", name: "ParseError" },
  TRL0002: { level: "Error", name: "InvalidObject" },
  TRL0003: { level: "Error", name: "UnsupportedApiVersion" },
  TRL0004: { level: "Warning", name: "UnsupportedKind" },
  TRL0005: { level: "Error", name: "DuplicateResource" },
  TRL0010: { level: "Error", name: "UnknownField" },
  TRL0011: { level: "Error", name: "WrongType" },
  TRL0012: { level: "Error", name: "MissingRequiredField" },
  TRL0013: { level: "Error", name: "InvalidEnumValue" },
  TRL0014: { level: "Error", name: "InvalidDuration" },
  TRL0015: { level: "Error", name: "InvalidHost" },
  TRL0016: { level: "Error", name: "InvalidLabel" },
  TRL0017: { level: "Error", name: "InvalidCidr" },
  TRL0018: { level: "Error", name: "InvalidPort" },
  TRL0019: { level: "Error", name: "ConflictingFields" },
  TRL0020: { level: "Error", name: "InvalidValue" },
  TRL1001: { level: "Error", name: "RouteWeightsNotHundred" },
  TRL1002: { level: "Error", name: "SubsetNotDefined" },
  TRL1003: { level: "Warning", name: "SubsetMatchesNoWorkload" },
  TRL1004: { level: "Error", name: "ConflictingVirtualServiceHosts" },
  TRL1005: { level: "Error", name: "GatewayNotFound" },
  TRL1006: { level: "Warning", name: "VirtualServiceHostNotFound" },
  TRL1007: { level: "Error", name: "DestinationHostNotFound" },
  TRL1008: { level: "Warning", name: "SelectorMatchesNothing" },
  TRL1009: { level: "Error", name: "ConflictingPeerAuthentication" },
  TRL1010: { level: "Error", name: "DestinationRuleTlsConflict" },
  TRL1011: { level: "Error", name: "DuplicateSubsetName" },
  TRL1012: { level: "Warning", name: "SidecarEgressHostNotFound" },
  TRL1013: { level: "Warning", name: "ConflictingDestinationRuleSubsets" },
} as const satisfies Record<string, { level: Level; name: string }>;

export type Code = keyof typeof CODES;
