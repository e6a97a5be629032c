// Choosing a customer by searching for them (name, e-mail or phone): the first few matches, one
// click to pick.
import { Button, Group, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { customers, describe } from "../api/clients";
import type { Party } from "../gen/crm/customers/v1/customers_pb";

/** Matches offered at once. */
const OFFERED = 5;

export function PartyPicker({ label, onPick, exclude }: { label: string; onPick: (party: Party) => void; exclude?: string }) {
  const { t } = useTranslation();
  const [text, setText] = useState("");
  const [found, setFound] = useState<Party[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const search = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    try {
      const page = await customers.searchParties({ query: text.trim(), pageSize: OFFERED + 1 });
      setFound(page.parties.filter((p) => p.id !== exclude).slice(0, OFFERED));
    } catch (err) {
      setFailure(describe(err));
    }
  };

  return (
    <Stack gap="xs">
      <form onSubmit={search}>
        <Group align="end">
          <TextInput label={label} value={text} onChange={(e) => setText(e.currentTarget.value)} style={{ flex: 1 }} required />
          <Button type="submit" variant="default">
            {t("customers.submit")}
          </Button>
        </Group>
      </form>
      {failure && (
        <Text c="red.9" role="alert">
          {failure}
        </Text>
      )}
      {found && found.length === 0 && <Text>{t("customers.none")}</Text>}
      {found && found.length > 0 && (
        <Group gap="xs">
          {found.map((p) => (
            <Button key={p.id} size="xs" variant="light" onClick={() => onPick(p)}>
              {p.displayName}
            </Button>
          ))}
        </Group>
      )}
    </Stack>
  );
}
