// Customer search: by name, e-mail or phone, a page at a time.
import { Badge, Button, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { customers } from "../../api/clients";
import { navigate, useLocation } from "../../app/router";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import type { Party } from "../../gen/crm/customers/v1/customers_pb";
import { CustomersNav } from "./CustomersNav";
import { TableHead } from "../../components/TableParts";

const PAGE = 20;

export function Customers() {
  const { t } = useTranslation();
  const { query } = useLocation();
  const q = query.get("q") ?? "";
  const [text, setText] = useState(q);
  const paging = usePaging();
  const pageToken = paging.token;
  const [call, retry] = useCall(async (): Promise<{ parties: Party[]; nextPageToken: string }> => {
    const page = q
      ? await customers.searchParties({ query: q, pageSize: PAGE, pageToken })
      : await customers.listParties({ pageSize: PAGE, pageToken });
    return { parties: page.parties, nextPageToken: page.nextPageToken };
  }, [q, pageToken]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    paging.reset();
    navigate(`/customers?q=${encodeURIComponent(text.trim())}`);
  };

  return (
    <Stack>
      <CustomersNav />
      <Title order={1}>{t("customers.title")}</Title>
      <form onSubmit={submit} role="search">
        <Group align="end">
          <TextInput
            label={t("customers.search")}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            style={{ flex: 1 }}
            name="q"
          />
          <Button type="submit">{t("customers.submit")}</Button>
        </Group>
      </form>
      <Loaded call={call} retry={retry}>
        {(found) =>
          found.parties.length === 0 ? (
            <Text>{t("customers.none")}</Text>
          ) : (
            <>
              <PartyTable parties={found.parties} />
              <More paging={paging} nextPageToken={found.nextPageToken} />
            </>
          )
        }
      </Loaded>
    </Stack>
  );
}

function PartyTable({ parties }: { parties: Party[] }) {
  const { t } = useTranslation();
  return (
    <Table striped highlightOnHover>
      <TableHead heads={[t("customers.name"), t("customers.contact"), t("customers.tier"), t("customers.stage")]} />
      <Table.Tbody>
        {parties.map((party) => (
          <Table.Tr key={party.id}>
            <Table.Td>
              <Link to={`/customers/${encodeURIComponent(party.id)}`}>{party.displayName}</Link>
            </Table.Td>
            <Table.Td>{party.contactPoints.map((c) => c.value).join(", ")}</Table.Td>
            <Table.Td>{party.value?.tier && <Badge variant="light">{party.value.tier}</Badge>}</Table.Td>
            <Table.Td>{t(`stages.${party.lifecycleStage}`)}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
