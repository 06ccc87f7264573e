import assert from "node:assert/strict";
import type { Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { closeServer, echoOrigin, type Pair, readAll, SERVER_ID, startPair } from "./harness.js";

// data-plane.md §2.2 (in-pod mode): the node proxy serves 15008 on a socket that lives in the pod's netns, so the
// HBONE server must be able to listen through a caller-supplied binder instead of binding host:port itself.
describe("HboneServer listen hook", () => {
  let pair: Pair;
  let echo: Awaited<ReturnType<typeof echoOrigin>>;
  const bound: Server[] = [];

  before(async () => {
    echo = await echoOrigin();
    pair = await startPair({
      server: {
        port: 1, // ignored: the hook decides where the listener binds
        listen: (server) =>
          new Promise<void>((resolve) => {
            bound.push(server);
            server.listen(0, "127.0.0.1", () => resolve());
          }),
      },
    });
  });

  after(async () => {
    await pair.close();
    await closeServer(echo.server);
  });

  it("the hook binds the listener and tunnels work through it", async () => {
    assert.equal(bound.length, 1);
    assert.notEqual(pair.server.port, 1);
    const stream = await pair.pool.connect({
      address: `127.0.0.1:${pair.server.port}`,
      target: `127.0.0.1:${echo.port}`,
      expectedIdentities: [SERVER_ID],
    });
    stream.end("through the hook");
    assert.equal((await readAll(stream)).toString(), "through the hook");
  });
});
