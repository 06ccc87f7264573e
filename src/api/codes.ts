// Diagnostic codes. IST* reuse Istio's codes (pkg/config/analysis/msg/messages.yaml) where Istio catches the
// same problem; AMB* are Ambit's own, for what Istio does not catch.

export const Codes = {
  // Istio's
  NamespaceNotInjected: "IST0102",
  SchemaValidationError: "IST0106",
  NamespaceMultipleInjectionLabels: "IST0123",
  NoMatchingWorkloadsFound: "IST0127",
  IneffectiveSelector: "IST0166",
  NegativeConditionStatus: "IST0171",
  // Ambit's: input
  YamlSyntaxError: "AMB0001",
  UnknownKind: "AMB0002",
  DuplicateObject: "AMB0003",
  NonKubernetesLabelValue: "AMB0004",
  // Ambit's: ambient semantics
  PodWaypointWrongTrafficType: "AMB0101",
  PolicyEnforcedNowhere: "AMB0102",
  SelectorPolicyWithHttpFields: "AMB0103",
  UnusedWaypoint: "AMB0104",
  WaypointListenerInvalid: "AMB0105",
  UseWaypointNamespaceIgnored: "AMB0106",
  UnknownDataplaneMode: "AMB0107",
  UnknownWaypointFor: "AMB0108",
  PolicyIgnoredByWaypoint: "AMB0109",
  PodWaypointUnresolved: "AMB0110",
  RouteNotRespected: "AMB0111",
} as const;
