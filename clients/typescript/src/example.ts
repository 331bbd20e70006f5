// Example: one Route(), one Plan() and one invalid request against a running router.
//
//   npm run example -- [--router HOST:PORT] [--token T] [--json]
//
// The token: --token, else $SWITCHYARD_TOKEN, else `make run`'s dev token
// (examples/tenants.yaml) when the router is on this machine.
// --json prints what it saw as one JSON document (tests/clients/test_typescript.py
// reads it); without it, a short readable summary.

import { toJson } from "@bufbuild/protobuf";
import {
  AttemptOutcome,
  AttemptVerdict,
  CallError,
  DEFAULT_ROUTER,
  InvalidArgumentError,
  PlanResponseSchema,
  RouteResponseSchema,
  RouterClient,
  isLoopback,
  routeRequest,
} from "./index.js";

const DEV_TENANT_TOKEN = "dev-tenant-token";

const LONG_PROMPT =
  "Please consider the following planning notes carefully. ".repeat(20) + "Summarise them.";

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function main(): Promise<number> {
  const address = flag("--router") ?? process.env.SWITCHYARD_ROUTER ?? DEFAULT_ROUTER;
  const json = process.argv.includes("--json");
  const token =
    flag("--token") ??
    process.env.SWITCHYARD_TOKEN ??
    (isLoopback(`http://${address.replace(/^https?:\/\//, "")}`) ? DEV_TENANT_TOKEN : "");
  const router = new RouterClient({ address, timeoutMs: 20_000, token });
  try {
    const reply = await router.route(
      routeRequest("What is a B-tree?", { taskType: "chat", tier: "pro", budgetMicros: 5000n }),
    );
    const plan = await router.plan(routeRequest(LONG_PROMPT, { taskType: "math" }));
    let invalid: Record<string, unknown> = { raised: false };
    try {
      await router.route({ messages: [], taskType: "astrology", budgetMicros: -5n });
    } catch (error) {
      if (!(error instanceof CallError)) {
        throw error;
      }
      invalid = {
        raised: true,
        class: error.name,
        isInvalidArgument: error instanceof InvalidArgumentError,
        code: error.codeName,
        reason: error.reason,
        fieldViolations: error.fieldViolations,
      };
    }
    if (json) {
      console.log(
        JSON.stringify({
          route: toJson(RouteResponseSchema, reply),
          plan: toJson(PlanResponseSchema, plan),
          invalid,
        }),
      );
      return 0;
    }
    console.log(`${reply.answer}\n`);
    console.log(
      `model ${reply.modelId}, rule ${reply.rule}, strategy ${reply.strategy}, ` +
        `cost ${reply.totalCostMicros} µUSD, ${reply.totalLatencyMs} ms`,
    );
    for (const a of reply.attempts) {
      console.log(
        `  stage ${a.stage} retry ${a.retry} ${a.modelId}: ${AttemptOutcome[a.outcome]}, ` +
          `${AttemptVerdict[a.verdict]}, ${a.latencyMs} ms, ${a.costMicros} µUSD`,
      );
    }
    console.log(
      `\nplan: rule ${plan.rule}, selector ${plan.selector}, expected ` +
        `${plan.expectedCostMicros} µUSD / ${plan.expectedLatencyMs} ms / quality ` +
        `${plan.expectedQuality.toFixed(3)}; chain ` +
        plan.candidates.filter((c) => c.kept).map((c) => c.modelId).join(" → "),
    );
    console.log(`\ninvalid request: ${JSON.stringify(invalid)}`);
    return 0;
  } catch (error) {
    if (error instanceof CallError && error.unreachable) {
      console.error(`cannot reach the router at ${address}: ${error.rawMessage}`);
      return 3;
    }
    console.error(String(error));
    return 1;
  } finally {
    router.close();
  }
}

process.exitCode = await main();
