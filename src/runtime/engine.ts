import type { Database } from "bun:sqlite";
import { initialTransition, transition, type AnyStateMachine } from "xstate";
import type { SendParams, SpawnParams } from "../../actors/protocol.ts";
import * as sql from "../store/actors.ts";

/** Injected time source, in epoch milliseconds. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A machine the runtime can host, and the names of its effect actions. */
export interface MachineEntry {
  machine: AnyStateMachine;
  version: number;
  effects: ReadonlySet<string>;
}

export type MachineRegistry = Readonly<Record<string, MachineEntry>>;

/** The state change one delivered event made to an actor, for logging after the commit. */
export interface StateChange {
  actorId: string;
  kind: string;
  registrationId: string;
  from: string;
  to: string;
  context: Record<string, unknown>;
}

type AnyEvent = { type: string } & Record<string, unknown>;

interface ExecutableAction {
  type: string;
  params?: unknown;
}

interface RaiseParams {
  event: AnyEvent;
  id?: string;
  delay?: number;
}

/**
 * XState built-ins that act on live child actors. A snapshot restored from the
 * store has no live children, so these actions would be lost silently.
 * Machines use `send` and `spawn` instead.
 */
const LIVE_ONLY_ACTIONS = new Set(["xstate.sendTo", "xstate.spawnChild", "xstate.stopChild"]);

export class UnknownActorKindError extends Error {
  readonly code = "UNKNOWN_ACTOR_KIND";
}

/** An actor saved by a newer build, whose snapshot this build may misread. */
export class NewerMachineVersionError extends Error {
  readonly code = "NEWER_MACHINE_VERSION";
}

/** A machine action that is neither an XState built-in nor a registered effect. */
export class UnknownActionError extends Error {
  readonly code = "UNKNOWN_ACTION";
}

/**
 * Applies XState transitions durably. Each call runs inside a write
 * transaction that its caller opened, so the new snapshot, the events it sends,
 * its timers and its effects commit together or not at all.
 */
export class Engine {
  constructor(
    private readonly db: Database,
    private readonly registry: MachineRegistry,
    private readonly random: () => number = Math.random,
  ) {}

  /** Creates an actor and performs the actions of its initial state. */
  create(
    kind: string,
    id: string,
    registrationId: string,
    input: Record<string, unknown>,
    now: number,
  ): void {
    const entry = this.entry(kind);
    const [snapshot, actions] = initialTransition(entry.machine, input);

    sql.insertActor(
      this.db,
      {
        id,
        kind,
        machine_version: entry.version,
        registration_id: registrationId,
        state: stateName(snapshot.value),
        done: snapshot.status === "done" ? 1 : 0,
        snapshot: JSON.stringify(entry.machine.getPersistedSnapshot(snapshot)),
      },
      now,
    );
    this.perform(id, registrationId, entry, actions as ExecutableAction[], now);
  }

  /**
   * Delivers one event to an actor and returns the state change. Returns null,
   * changing nothing, when the actor does not exist or already reached a final
   * state.
   */
  deliver(actorId: string, event: AnyEvent, now: number): StateChange | null {
    const row = sql.selectActor(this.db, actorId);
    if (row === null || row.done === 1) return null;

    const entry = this.entry(row.kind);
    if (row.machine_version > entry.version) {
      throw new NewerMachineVersionError(
        `actor ${actorId} was saved by ${row.kind} machine version ` +
          `${row.machine_version}, newer than this build's ${entry.version}`,
      );
    }

    const persisted = JSON.parse(row.snapshot) as { value: unknown; context: unknown };
    const current = entry.machine.resolveState({
      value: persisted.value as never,
      context: persisted.context as never,
    });
    const stamped = { at: now, jitter: this.random(), ...event };
    const [next, actions] = transition(entry.machine, current, stamped);

    const done = next.status === "done";
    sql.updateActor(
      this.db,
      actorId,
      stateName(next.value),
      done,
      JSON.stringify(entry.machine.getPersistedSnapshot(next)),
      now,
    );
    this.perform(actorId, row.registration_id, entry, actions as ExecutableAction[], now);

    // A finished actor never needs its timers or unstarted effects again.
    if (done) sql.deletePendingWork(this.db, actorId, now);
    return {
      actorId,
      kind: row.kind,
      registrationId: row.registration_id,
      from: row.state,
      to: stateName(next.value),
      context: next.context as Record<string, unknown>,
    };
  }

  private perform(
    actorId: string,
    registrationId: string,
    entry: MachineEntry,
    actions: ExecutableAction[],
    now: number,
  ): void {
    for (const action of actions) {
      if (action.type === "xstate.raise") {
        // A raise without a delay was already handled inside transition().
        const params = action.params as RaiseParams;
        if (params.delay !== undefined) {
          const timerId = params.id ?? params.event.type;
          sql.deleteTimer(this.db, actorId, timerId);
          sql.insertInbox(this.db, actorId, params.event, now + params.delay, timerId, now);
        }
      } else if (action.type === "xstate.cancel") {
        const params = action.params as { sendId: string };
        sql.deleteTimer(this.db, actorId, params.sendId);
      } else if (action.type === "send") {
        const params = action.params as SendParams;
        sql.insertInbox(this.db, params.to, params.event, now, null, now);
      } else if (action.type === "spawn") {
        const params = action.params as SpawnParams;
        this.create(params.kind, params.id, registrationId, params.input, now);
      } else if (entry.effects.has(action.type)) {
        // An effect action without params is stored as JSON null, not as SQL NULL.
        const params = action.params ?? null;
        sql.insertEffect(this.db, crypto.randomUUID(), actorId, action.type, params, now);
      } else if (!action.type.startsWith("xstate.") || LIVE_ONLY_ACTIONS.has(action.type)) {
        throw new UnknownActionError(
          `machine action "${action.type}" of actor ${actorId} has no durable meaning: ` +
            `use send, spawn or an effect of kind "${entry.machine.id}"`,
        );
      }
    }
  }

  private entry(kind: string): MachineEntry {
    const entry = this.registry[kind];
    if (entry === undefined) throw new UnknownActorKindError(`unknown actor kind "${kind}"`);
    return entry;
  }
}

function stateName(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
