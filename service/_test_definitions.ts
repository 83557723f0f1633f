/**
 * The service definitions the service tests share: the client's on Linux, as install-service
 * makes it (its data dir in `run`'s arguments and its KeyStorage writable beside it).
 *
 * @module
 */

import type { ServiceDefinition } from "./service_definition.ts";

/** The client's service on Linux. */
export const LINUX_CLIENT_SERVICE: ServiceDefinition = {
  name: "besclient",
  description: "BES Client",
  argv: ["/usr/local/bin/mle-client", "run", "--data-dir", "/var/opt/BESClient"],
  dataDir: "/var/opt/BESClient",
  writablePaths: ["/etc/opt/BESClient/KeyStorage"],
};
