import { describe, expect, test } from "bun:test";
import { initialTransition, transition } from "xstate";
import { registrationMachine } from "../actors/registration.ts";

const INPUT = { registrationId: "r-1", ticketActorId: "t-1" };

function plain(actions: readonly { type: string; params?: unknown }[]) {
  return actions.map((action) => ({ type: action.type, params: action.params }));
}

describe("registration machine", () => {
  test("entry sends ISSUE to the ticket", () => {
    const [snapshot, actions] = initialTransition(registrationMachine, INPUT);

    expect(snapshot.value).toBe("confirmed");
    expect(snapshot.status).toBe("active");
    expect(plain(actions)).toEqual([
      { type: "send", params: { to: "t-1", event: { type: "ISSUE" } } },
    ]);
  });

  test("cancel is final and sends nothing", () => {
    const [confirmed] = initialTransition(registrationMachine, INPUT);
    const [next, actions] = transition(registrationMachine, confirmed, { type: "CANCEL" });

    expect(next.value).toBe("cancelled");
    expect(next.status).toBe("done");
    expect(plain(actions)).toEqual([]);
  });

  test("restored snapshot does not issue again", () => {
    const [confirmed] = initialTransition(registrationMachine, INPUT);
    const persisted = JSON.parse(
      JSON.stringify(registrationMachine.getPersistedSnapshot(confirmed)),
    ) as { value: "confirmed"; context: typeof INPUT };
    const restored = registrationMachine.resolveState(persisted);
    const [next, actions] = transition(registrationMachine, restored, {
      type: "UNKNOWN",
    } as never);

    expect(next.value).toBe("confirmed");
    expect(plain(actions)).toEqual([]);
  });
});
