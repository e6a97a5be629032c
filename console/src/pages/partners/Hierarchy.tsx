// The channel hierarchy: every partner under the one above it (master distributors, their
// distributors, dealers...), drawn as a tree and listed with type, tier and status.
import { Badge, List, Stack, Text, Title } from "@mantine/core";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { partners } from "../../api/clients";
import { navigate } from "../../app/router";
import type { ChartOption } from "../../charts/echarts";
import { Chart } from "../../components/Chart";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { Section } from "../../components/Section";
import { PartnerStatus, type PartnerTreeNode } from "../../gen/crm/partners/v1/partners_pb";
import { forest, type Branch } from "./hierarchy";
import { PartnersNav } from "./PartnersNav";

export function Hierarchy() {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => partners.getPartnerTree({}), []);
  return (
    <Stack>
      <PartnersNav />
      <Title order={1}>{t("hierarchy.title")}</Title>
      <Loaded call={call} retry={retry}>
        {({ nodes }) => (nodes.length === 0 ? <Text>{t("hierarchy.none")}</Text> : <Tree nodes={nodes} />)}
      </Loaded>
    </Stack>
  );
}

function Tree({ nodes }: { nodes: PartnerTreeNode[] }) {
  const { t } = useTranslation();
  const roots = useMemo(() => forest(nodes), [nodes]);
  const names = useMemo(() => new Map(nodes.map((n) => [n.partner?.name ?? "", n.partner?.id ?? ""])), [nodes]);
  const option = useMemo((): ChartOption => {
    type Datum = { name: string; children: Datum[] };
    const toChart = (b: Branch): Datum => ({ name: b.node.partner?.name ?? "", children: b.children.map(toChart) });
    return {
      tooltip: {},
      series: [
        {
          type: "tree",
          // Several top-level partners hang under the channel as a whole.
          data: roots.length === 1 ? [toChart(roots[0])] : [{ name: t("hierarchy.channel"), children: roots.map(toChart) }],
          orient: "LR",
          initialTreeDepth: -1,
          symbolSize: 10,
          label: { position: "left", verticalAlign: "middle", align: "right" },
          leaves: { label: { position: "right", align: "left" } },
          itemStyle: { color: "#1864ab" },
        },
      ],
    };
  }, [roots, t]);
  return (
    <>
      <Chart
        option={option}
        label={t("hierarchy.chartLabel")}
        height={Math.max(240, nodes.length * 26)}
        onSelect={(name) => {
          const id = names.get(name);
          if (id) navigate(`/partners/p/${encodeURIComponent(id)}`);
        }}
      />
      <Section title={t("hierarchy.list")}>
        <List>
          {roots.map((b) => (
            <Nested key={b.node.partner?.id} branch={b} />
          ))}
        </List>
      </Section>
    </>
  );
}

function Nested({ branch }: { branch: Branch }) {
  const { t } = useTranslation();
  const p = branch.node.partner;
  if (!p) return null;
  return (
    <List.Item>
      <Link to={`/partners/p/${encodeURIComponent(p.id)}`}>{p.name}</Link> · {t(`hierarchy.types.${p.type}`)}
      {p.tier && <> · {p.tier}</>}{" "}
      {p.status !== PartnerStatus.ACTIVE && (
        <Badge size="sm" color={p.status === PartnerStatus.TERMINATED ? "red.9" : undefined} variant={p.status === PartnerStatus.TERMINATED ? "filled" : "light"}>
          {t(`hierarchy.statuses.${p.status}`)}
        </Badge>
      )}
      {branch.children.length > 0 && (
        <List withPadding>
          {branch.children.map((c) => (
            <Nested key={c.node.partner?.id} branch={c} />
          ))}
        </List>
      )}
    </List.Item>
  );
}
