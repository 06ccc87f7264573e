// grpc-js speaks Buffers; protobuf-es v2 speaks schemas. This turns a generated service descriptor
// into a grpc-js service definition, so no grpc code generator is needed (feasibility.md §6).
import { type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { AggregatedDiscoveryService } from "./gen/envoy/service/discovery/v3/ads_pb.js";
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "./gen/envoy/service/discovery/v3/discovery_pb.js";

export function toGrpcService(svc: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of svc.methods) {
    def[m.localName] = {
      path: `/${svc.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      // Callers always pass messages built with create(), which carry their $typeName.
      requestSerialize: (v) => Buffer.from(toBinary(m.input, v as never)),
      requestDeserialize: (b: Buffer) => fromBinary(m.input, b),
      responseSerialize: (v) => Buffer.from(toBinary(m.output, v as never)),
      responseDeserialize: (b: Buffer) => fromBinary(m.output, b),
      originalName: m.name,
    };
  }
  return def as grpc.ServiceDefinition;
}

export const adsService: grpc.ServiceDefinition = toGrpcService(AggregatedDiscoveryService);

export type AdsClientStream = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** A grpc-js client for the ADS service; generic clients expose methods by local name. */
export class AdsClient extends grpc.makeGenericClientConstructor(adsService, "AggregatedDiscoveryService") {
  openDelta(metadata: grpc.Metadata): AdsClientStream {
    const open = (this as unknown as Record<string, (m: grpc.Metadata) => AdsClientStream>).deltaAggregatedResources!;
    return open.call(this, metadata);
  }
}
