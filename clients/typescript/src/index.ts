// @switchyard/client: the typed wrapper, the typed errors, and every generated message.
export * from "./client.js";
export * from "./errors.js";
export * from "./gen/switchyard/router/v1/router_pb.js";
export * as registry from "./gen/switchyard/registry/v1/registry_pb.js";
export * as verifier from "./gen/switchyard/verifier/v1/verifier_pb.js";
export * as controlplane from "./gen/switchyard/controlplane/v1/controlplane_pb.js";
