// A reporting period as the suite names them: a year (2026), a quarter (2026-Q3) or a month
// (2026-07), with the form told when it is not one.
import { TextInput } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** The quarter `now` falls in, as periods are named ("2026-Q4"): where reports start. */
export function quarterOf(now: Date): string {
  return `${now.getFullYear()}-Q${Math.floor(now.getMonth() / 3) + 1}`;
}

/** Whether `period` names a year, quarter or month. */
export function isPeriod(period: string): boolean {
  return /^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$/.test(period);
}

export function PeriodInput({ value, onChange, error, w }: { value: string; onChange: (period: string) => void; error?: string; w?: number }) {
  const { t } = useTranslation();
  return (
    <TextInput
      label={t("reports.period")}
      description={t("reports.periodHint")}
      value={value}
      w={w}
      error={error ?? (isPeriod(value) ? undefined : t("reports.periodInvalid"))}
      onChange={(e) => onChange(e.currentTarget.value.trim())}
    />
  );
}
