import { createDeliveryMachine, DELIVERY_MACHINE_VERSION } from "../../actors/delivery.ts";
import { registrationMachine, REGISTRATION_MACHINE_VERSION } from "../../actors/registration.ts";
import { createTicketMachine, TICKET_MACHINE_VERSION } from "../../actors/ticket.ts";
import type { BackoffPolicy } from "../retry/backoff.ts";
import type { Database } from "bun:sqlite";
import type { Config } from "../config.ts";
import { Engine, type MachineRegistry } from "./engine.ts";

/** Builds the registry of every actor kind admit runs, for one retry policy. */
export function createMachineRegistry(policy: BackoffPolicy): MachineRegistry {
  return {
    registration: {
      machine: registrationMachine,
      version: REGISTRATION_MACHINE_VERSION,
      effects: new Set(),
    },
    ticket: {
      machine: createTicketMachine(policy),
      version: TICKET_MACHINE_VERSION,
      effects: new Set(["render"]),
    },
    delivery: {
      machine: createDeliveryMachine(policy),
      version: DELIVERY_MACHINE_VERSION,
      effects: new Set(["sendMail"]),
    },
  };
}

/** Builds the engine for a store with the configured retry policy. */
export function createEngine(
  db: Database,
  config: Pick<Config, "retryBaseMs" | "retryCapMs" | "retryMaxAttempts">,
  random?: () => number,
): Engine {
  const policy = {
    baseMs: config.retryBaseMs,
    capMs: config.retryCapMs,
    maxAttempts: config.retryMaxAttempts,
  };
  return new Engine(db, createMachineRegistry(policy), random);
}
