// The CRD validators of Istio's kinds and the Gateway API's, compiled by @kubernetes-models/istio and
// @kubernetes-models/gateway-api from their OpenAPI schemas.
import { DestinationRule as DestinationRuleV1 } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import { Gateway as GatewayV1 } from "@kubernetes-models/istio/networking.istio.io/v1/Gateway";
import { ServiceEntry as ServiceEntryV1 } from "@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry";
import { Sidecar as SidecarV1 } from "@kubernetes-models/istio/networking.istio.io/v1/Sidecar";
import { VirtualService as VirtualServiceV1 } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import { WorkloadEntry as WorkloadEntryV1 } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry";
import { DestinationRule as DestinationRuleV1beta1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule";
import { Gateway as GatewayV1beta1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway";
import { ServiceEntry as ServiceEntryV1beta1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry";
import { Sidecar as SidecarV1beta1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Sidecar";
import { VirtualService as VirtualServiceV1beta1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService";
import { WorkloadEntry as WorkloadEntryV1beta1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadEntry";
import { DestinationRule as DestinationRuleV1alpha3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/DestinationRule";
import { Gateway as GatewayV1alpha3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/Gateway";
import { ServiceEntry as ServiceEntryV1alpha3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/ServiceEntry";
import { Sidecar as SidecarV1alpha3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/Sidecar";
import { VirtualService as VirtualServiceV1alpha3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/VirtualService";
import { WorkloadEntry as WorkloadEntryV1alpha3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadEntry";
import { GatewayClass as GwGatewayClassV1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GatewayClass";
import { Gateway as GwGatewayV1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import { HTTPRoute as GwHTTPRouteV1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { GRPCRoute as GwGRPCRouteV1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GRPCRoute";
import { ReferenceGrant as GwReferenceGrantV1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/ReferenceGrant";
import { TLSRoute as GwTLSRouteV1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/TLSRoute";
import { GatewayClass as GwGatewayClassV1beta1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/GatewayClass";
import { Gateway as GwGatewayV1beta1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/Gateway";
import { HTTPRoute as GwHTTPRouteV1beta1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/HTTPRoute";
import { ReferenceGrant as GwReferenceGrantV1beta1 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant";
import { GRPCRoute as GwGRPCRouteV1alpha2 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/GRPCRoute";
import { ReferenceGrant as GwReferenceGrantV1alpha2 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/ReferenceGrant";
import { TLSRoute as GwTLSRouteV1alpha2 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/TLSRoute";
import { TCPRoute as GwTCPRouteV1alpha2 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/TCPRoute";
import { TLSRoute as GwTLSRouteV1alpha3 } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha3/TLSRoute";
import { AuthorizationPolicy as AuthorizationPolicyV1 } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import { PeerAuthentication as PeerAuthenticationV1 } from "@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication";
import { RequestAuthentication as RequestAuthenticationV1 } from "@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication";
import { AuthorizationPolicy as AuthorizationPolicyV1beta1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy";
import { PeerAuthentication as PeerAuthenticationV1beta1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication";
import { RequestAuthentication as RequestAuthenticationV1beta1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/RequestAuthentication";

export interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

const MODELS: ModelClass[] = [
  DestinationRuleV1, GatewayV1, ServiceEntryV1, SidecarV1, VirtualServiceV1, WorkloadEntryV1,
  DestinationRuleV1beta1, GatewayV1beta1, ServiceEntryV1beta1, SidecarV1beta1, VirtualServiceV1beta1, WorkloadEntryV1beta1,
  DestinationRuleV1alpha3, GatewayV1alpha3, ServiceEntryV1alpha3, SidecarV1alpha3, VirtualServiceV1alpha3, WorkloadEntryV1alpha3,
  AuthorizationPolicyV1, PeerAuthenticationV1, RequestAuthenticationV1,
  AuthorizationPolicyV1beta1, PeerAuthenticationV1beta1, RequestAuthenticationV1beta1,
  GwGatewayClassV1, GwGatewayV1, GwHTTPRouteV1, GwGRPCRouteV1, GwReferenceGrantV1, GwTLSRouteV1, GwGatewayClassV1beta1, GwGatewayV1beta1, GwHTTPRouteV1beta1, GwReferenceGrantV1beta1, GwGRPCRouteV1alpha2, GwReferenceGrantV1alpha2, GwTLSRouteV1alpha2, GwTCPRouteV1alpha2, GwTLSRouteV1alpha3,
] as unknown as ModelClass[];

const BY_KEY = new Map(MODELS.map((m) => [`${m.apiVersion}/${m.kind}`, m]));

/** A function returning the schema errors of a whole object of that kind (empty when valid). */
export function validatorFor(apiVersion: string, kind: string): (obj: unknown) => AjvError[] {
  const Model = BY_KEY.get(`${apiVersion}/${kind}`);
  if (!Model) return () => [];
  return (obj) => {
    try {
      new Model(obj).validate();
      return [];
    } catch (err) {
      const errors = (err as { errors?: AjvError[] }).errors;
      if (!Array.isArray(errors)) throw err;
      return errors;
    }
  };
}
