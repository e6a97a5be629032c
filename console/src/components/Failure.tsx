// Why the last change was refused, in the service's words (which name the fields at fault).
import { Alert } from "@mantine/core";
import type { ActionState } from "./useAction";

export function Failure({ action }: { action: ActionState }) {
  if (!action.failure) return null;
  return (
    <Alert color="red" role="alert" my="xs">
      {action.failure}
    </Alert>
  );
}
