// The customer base by RFM cell as a heat map: recency down the side, frequency across, one
// monetary score or all; each square says its customers and revenue in words as well as in
// colour.
import { Group, NativeSelect, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { marketing } from "../../api/clients";
import { Loaded, useCall } from "../../components/Loaded";
import { Section } from "../../components/Section";
import { count, money } from "../../format";
import type { RfmCell } from "../../gen/crm/marketing/v1/marketing_pb";
import { shade, squares } from "./heat";
import { MarketingNav } from "./MarketingNav";
import { Segments } from "./Segments";

export function RfmMap() {
  const { t } = useTranslation();
  const [m, setM] = useState("0");
  const [call, retry] = useCall(() => marketing.getRfmCells({}), []);
  return (
    <Stack>
      <MarketingNav />
      <Title order={1}>{t("marketing.title")}</Title>
      <Section title={t("marketing.rfm")}>
        <Group mb="sm">
          <NativeSelect
            label={t("marketing.monetary")}
            value={m}
            onChange={(e) => setM(e.currentTarget.value)}
            data={["0", "5", "4", "3", "2", "1"].map((v) => ({ value: v, label: v === "0" ? t("marketing.allScores") : v }))}
          />
        </Group>
        <Loaded call={call} retry={retry}>
          {(found) => <Map cells={found.cells} m={Number(m)} />}
        </Loaded>
      </Section>
      <Segments />
    </Stack>
  );
}

function Map({ cells, m }: { cells: RfmCell[]; m: number }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const rows = squares(cells, m);
  const most = rows.flat().reduce((top, s) => (s.customers > top ? s.customers : top), 0n);
  // The revenue's currency: the service adds it up in one.
  const currency = cells.find((c) => c.revenue?.currencyCode)?.revenue?.currencyCode ?? "";
  return (
    <Table className="heat-map" withTableBorder aria-describedby="heat-map-hint">
      <caption id="heat-map-hint">
        <Text size="sm">{t("marketing.mapHint")}</Text>
      </caption>
      <Table.Thead>
        <Table.Tr>
          <Table.Th scope="col">{t("marketing.recencyFrequency")}</Table.Th>
          {[1, 2, 3, 4, 5].map((f) => (
            <Table.Th key={f} scope="col">
              F{f}
            </Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((row) => (
          <Table.Tr key={row[0].r}>
            <Table.Th scope="row">R{row[0].r}</Table.Th>
            {row.map((s) => (
              <Table.Td key={s.f} className={`heat-${shade(s.customers, most)}`} aria-label={t("marketing.square", { r: s.r, f: s.f })}>
                <Text fw={700}>{count(s.customers, locale)}</Text>
                <Text size="xs">{currency ? money(s.revenueMinor, currency, locale) : ""}</Text>
              </Table.Td>
            ))}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
