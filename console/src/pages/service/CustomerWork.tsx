// What a customer does on their own case: write to the desk, close a resolved case or reopen
// it, and rate how it was handled.
import { Button, Group, NativeSelect, Stack, Textarea, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { servicedesk } from "../../api/clients";
import { useAction } from "../../components/useAction";
import { CaseStatus, type Case } from "../../gen/crm/servicedesk/v1/servicedesk_pb";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";

export function CustomerWork({ item, onChanged }: { item: Case; onChanged: () => void }) {
  const { t } = useTranslation();
  const [comment, setComment] = useState("");
  const [rating, setRating] = useState("5");
  const [remark, setRemark] = useState("");
  const [action, run] = useAction();
  const resolved = item.status === CaseStatus.RESOLVED;
  const finished = resolved || item.status === CaseStatus.CLOSED;

  const write = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => servicedesk.addComment({ id: item.id, text: comment }))) {
      setComment("");
      onChanged();
    }
  };
  const move = async (status: CaseStatus) => {
    if (await run(() => servicedesk.changeCaseStatus({ id: item.id, etag: item.etag, status }))) onChanged();
  };
  const rate = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => servicedesk.rateCase({ id: item.id, rating: Number(rating), comment: remark }))) onChanged();
  };

  return (
    <Section title={t("self.yourPart")}>
      <Failure action={action} />
      <Stack>
        {item.status !== CaseStatus.CLOSED && (
          <form onSubmit={write} aria-label={t("self.write")}>
            <Stack gap="xs">
              <Textarea label={t("self.write")} value={comment} onChange={(e) => setComment(e.currentTarget.value)} error={action.fields.text} />
              <Group>
                <Button type="submit" variant="default" loading={action.busy}>
                  {t("self.send")}
                </Button>
              </Group>
            </Stack>
          </form>
        )}
        {resolved && (
          <Group>
            <Button onClick={() => void move(CaseStatus.CLOSED)} loading={action.busy}>
              {t("self.close")}
            </Button>
            <Button variant="default" onClick={() => void move(CaseStatus.IN_PROGRESS)} loading={action.busy}>
              {t("self.reopen")}
            </Button>
          </Group>
        )}
        {finished && item.satisfaction === 0 && (
          <form onSubmit={rate} aria-label={t("self.rate")}>
            <Group align="end">
              <NativeSelect
                label={t("self.rating")}
                value={rating}
                onChange={(e) => setRating(e.currentTarget.value)}
                data={["5", "4", "3", "2", "1"].map((v) => ({ value: v, label: t(`self.stars.${v}`) }))}
                error={action.fields.rating}
              />
              <TextInput label={t("self.remark")} value={remark} onChange={(e) => setRemark(e.currentTarget.value)} style={{ flex: 1 }} />
              <Button type="submit" loading={action.busy}>
                {t("self.rate")}
              </Button>
            </Group>
          </form>
        )}
      </Stack>
    </Section>
  );
}
