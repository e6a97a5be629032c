// Every call's three states, shown the same way everywhere: loading, failed (with the
// service's message and a retry), or its answer.
import { Alert, Button, Group, Loader, Text } from "@mantine/core";
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { describe } from "../api/clients";

/** The state of one call. */
export type Call<T> = { state: "loading" } | { state: "failed"; message: string } | { state: "done"; value: T };

/** Runs `load` now and whenever `deps` change; `retry` runs it again. With `every` (ms), it
 * also runs again on that period, replacing the answer shown without a loading state between
 * (a queue or a case someone else is changing). */
export function useCall<T>(load: () => Promise<T>, deps: unknown[], every?: number): [Call<T>, () => void] {
  const [call, setCall] = useState<Call<T>>({ state: "loading" });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    const run = () =>
      load().then(
        (value) => current && setCall({ state: "done", value }),
        (err: unknown) => current && setCall({ state: "failed", message: describe(err) }),
      );
    setCall({ state: "loading" });
    void run();
    const timer = every ? window.setInterval(run, every) : undefined;
    return () => {
      current = false;
      window.clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, attempt, every]);
  return [call, useCallback(() => setAttempt((a) => a + 1), [])];
}

/** Shows `call`'s answer with `children`, or its loading or failed state. */
export function Loaded<T>({ call, retry, children }: { call: Call<T>; retry?: () => void; children: (value: T) => ReactNode }) {
  const { t } = useTranslation();
  if (call.state === "loading") {
    return (
      <Group gap="xs" role="status" aria-live="polite">
        <Loader size="sm" aria-hidden />
        <Text size="sm">{t("state.loading")}</Text>
      </Group>
    );
  }
  if (call.state === "failed") {
    return (
      <Alert color="red" role="alert" title={t("state.error", { message: call.message })}>
        {retry && (
          <Button variant="light" color="red" size="xs" onClick={retry}>
            {t("state.retry")}
          </Button>
        )}
      </Alert>
    );
  }
  return <>{children(call.value)}</>;
}
