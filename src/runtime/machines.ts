import { createDeliveryMachine, DELIVERY_MACHINE_VERSION } from "../../actors/delivery.ts";
import { registrationMachine, REGISTRATION_MACHINE_VERSION } from "../../actors/registration.ts";
import { createTicketMachine, TICKET_MACHINE_VERSION } from "../../actors/ticket.ts";
import type { BackoffPolicy } from "../retry/backoff.ts";
import type { MachineRegistry } from "./engine.ts";

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
