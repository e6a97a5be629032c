// One SLA clock: the time left to a due moment, or how long it is overdue. The service moves the
// due moment out while a case waits on the customer, so the clock then shows as paused.
import { Badge, Text } from "@mantine/core";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { useTranslation } from "react-i18next";
import { countdown } from "./sla";

export function SlaClock(props: { due?: Timestamp; now: Date; met?: boolean; paused?: boolean }) {
  const { due, now, met, paused } = props;
  const { t } = useTranslation();
  if (met) return <Text size="sm">{t("cases.met")}</Text>;
  if (paused) return <Text size="sm">{t("cases.paused")}</Text>;
  if (!due) return <Text size="sm">—</Text>;
  const left = countdown(timestampDate(due), now);
  return left.overdue ? (
    <Badge color="red.9" className="sla-clock" data-overdue>
      {t("cases.overdueBy", { clock: left.clock })}
    </Badge>
  ) : (
    <Text size="sm" className="sla-clock" ff="monospace">
      {t("cases.left", { clock: left.clock })}
    </Text>
  );
}
