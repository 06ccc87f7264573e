// A bare delta ADS stream for tests that must speak the protocol by hand (as ztunnel would).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
} from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { AdsClient, type AdsClientStream } from "../../src/xds/grpc.js";
import { waitFor } from "./fixtures.js";

export class RawStream {
  readonly responses: DeltaDiscoveryResponse[] = [];
  error: grpc.ServiceError | undefined;
  readonly #client: AdsClient;
  readonly #stream: AdsClientStream;

  constructor(port: number, metadata: Record<string, string> = {}) {
    this.#client = new AdsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    this.#stream = this.#client.openDelta(md);
    this.#stream.on("data", (r: DeltaDiscoveryResponse) => this.responses.push(r));
    this.#stream.on("error", (e: grpc.ServiceError) => {
      this.error = e;
    });
  }

  send(init: MessageInitShape<typeof DeltaDiscoveryRequestSchema>): void {
    this.#stream.write(create(DeltaDiscoveryRequestSchema, init));
  }

  async next(count = this.responses.length + 1): Promise<DeltaDiscoveryResponse> {
    await waitFor(() => this.responses.length >= count || this.error !== undefined, `response #${count}`);
    if (this.error) throw this.error;
    return this.responses[count - 1]!;
  }

  close(): void {
    this.#stream.cancel();
    this.#client.close();
  }
}
