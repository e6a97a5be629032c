// A change the user asks for (a move, a quote, a comment): busy while it runs, then done, or
// refused with the service's message and the fields it named.
import { useCallback, useState } from "react";
import { describe, fieldErrors } from "../api/clients";

/** Where the last change stands. */
export interface ActionState {
  busy: boolean;
  /** The service's message when it refused. */
  failure: string | null;
  /** The fields it named, each with what is wrong with it. */
  fields: Record<string, string>;
}

const IDLE: ActionState = { busy: false, failure: null, fields: {} };

/** The state of the last change, and `run`, which carries one out (true when it succeeded). */
export function useAction(): [ActionState, (change: () => Promise<unknown>) => Promise<boolean>] {
  const [state, setState] = useState<ActionState>(IDLE);
  const run = useCallback(async (change: () => Promise<unknown>) => {
    setState({ ...IDLE, busy: true });
    try {
      await change();
      setState(IDLE);
      return true;
    } catch (err) {
      setState({ busy: false, failure: describe(err), fields: fieldErrors(err) });
      return false;
    }
  }, []);
  return [state, run];
}
