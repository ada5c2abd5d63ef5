/**
 * Registration actor, one per registration.
 *
 *   confirmed --CANCEL--> cancelled (final)
 *
 * On entry to `confirmed` it sends ISSUE to the registration's ticket actor, so
 * the ticket work starts from an inbox row committed with the registration.
 */
import { setup } from "xstate";
import type { SendParams } from "./protocol.ts";

export const REGISTRATION_MACHINE_VERSION = 1;

export interface RegistrationInput {
  registrationId: string;
  ticketActorId: string;
}

export const registrationMachine = setup({
  types: {} as {
    context: RegistrationInput;
    input: RegistrationInput;
    events: { type: "CANCEL" };
  },
  actions: {
    send: (_, _params: SendParams) => {},
  },
}).createMachine({
  id: "registration",
  context: ({ input }) => input,
  initial: "confirmed",
  states: {
    confirmed: {
      entry: {
        type: "send",
        params: ({ context }) => ({
          to: context.ticketActorId,
          event: { type: "ISSUE" },
        }),
      },
      on: { CANCEL: "cancelled" },
    },
    cancelled: { type: "final" },
  },
});
