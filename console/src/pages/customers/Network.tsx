// A customer's relationship network to explore: the parties within k hops as a graph (a click
// on one centres the graph there), the shortest path to another customer picked out, and the
// group the customer belongs to as a tree. Each drawing has its figures as a table beside it.
import { Button, Group, List, NativeSelect, Stack, Table, Text, Title } from "@mantine/core";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { customers } from "../../api/clients";
import { navigate, useLocation } from "../../app/router";
import { Chart } from "../../components/Chart";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { PartyPicker } from "../../components/PartyPicker";
import { Section } from "../../components/Section";
import { escapeHtml, type ChartOption } from "../../charts/echarts";
import type { Relationship } from "../../gen/crm/customers/v1/customers_pb";
import { graphOf, treeOf, type Branch, type GraphEdge, type GraphNode } from "./network";
import { TableHead } from "../../components/TableParts";

/** Parties drawn at most: the nearest first, as the service lists them. */
const DRAWN = 150;
/** A colour per distance from the centre (4.5:1 against white for their labels' sake). */
const HOP_COLOURS = ["#c92a2a", "#1864ab", "#087f5b", "#862e9c", "#5c3d00"];

export function Network({ id }: { id: string }) {
  const { t } = useTranslation();
  const { query } = useLocation();
  const hops = Number(query.get("hops") ?? "2");
  const to = query.get("to") ?? "";
  const at = (changes: { hops?: number; to?: string; id?: string }) => {
    const q = new URLSearchParams({ hops: String(changes.hops ?? hops) });
    const target = changes.to ?? to;
    if (target) q.set("to", target);
    navigate(`/customers/${encodeURIComponent(changes.id ?? id)}/network?${q}`);
  };

  const [call, retry] = useCall(async () => {
    const [start, reached, path] = await Promise.all([
      customers.getParty({ id }),
      customers.listNeighbours({ partyId: id, maxHops: hops }),
      to ? customers.findShortestPath({ fromPartyId: id, toPartyId: to }) : Promise.resolve(null),
    ]);
    return { start: start.party!, neighbours: reached.neighbours, path };
  }, [id, hops, to]);

  return (
    <Stack>
      <Link to={`/customers/${encodeURIComponent(id)}`}>{t("network.back")}</Link>
      <Loaded call={call} retry={retry}>
        {({ start, neighbours, path }) => (
          <>
            <Title order={1}>{t("network.title", { name: start.displayName })}</Title>
            <Section title={t("network.graph")}>
              <Group mb="sm" align="end">
                <NativeSelect
                  label={t("network.hops")}
                  value={String(hops)}
                  onChange={(e) => at({ hops: Number(e.currentTarget.value) })}
                  data={["1", "2", "3"]}
                />
                {to && (
                  <Button variant="default" onClick={() => navigate(`/customers/${encodeURIComponent(id)}/network?hops=${hops}`)}>
                    {t("network.clearPath")}
                  </Button>
                )}
              </Group>
              {neighbours.length > DRAWN && <Text size="sm">{t("network.nearest", { shown: DRAWN, all: neighbours.length })}</Text>}
              <Drawing
                {...graphOf(start, neighbours.slice(0, DRAWN), path?.steps)}
                label={t("network.graphLabel", { name: start.displayName, hops })}
                onSelect={(other) => other !== id && at({ id: other })}
              />
            </Section>
            <Section title={t("network.path")}>
              <PartyPicker label={t("network.pathTo")} exclude={id} onPick={(p) => at({ to: p.id })} />
              {path && (
                <Stack mt="sm" gap="xs">
                  {path.found ? (
                    <List type="ordered" aria-label={t("network.path")}>
                      <List.Item>{path.start?.displayName}</List.Item>
                      {path.steps.map((s) => (
                        <List.Item key={s.relationship?.id}>
                          <RelationshipName relationship={s.relationship} /> · {s.party?.displayName}
                        </List.Item>
                      ))}
                    </List>
                  ) : (
                    <Text role="status">{t("network.noPath")}</Text>
                  )}
                </Stack>
              )}
            </Section>
            <GroupTree id={id} />
          </>
        )}
      </Loaded>
    </Stack>
  );
}

function Drawing({ nodes, edges, label, onSelect }: { nodes: GraphNode[]; edges: GraphEdge[]; label: string; onSelect: (id: string) => void }) {
  const { t } = useTranslation();
  const names = new Map(nodes.map((n) => [n.id, n.label]));
  const option = useMemo((): ChartOption => {
    const typeOf = (r: Relationship) => relationshipLabel(r, t);
    return {
      tooltip: {
        formatter: (params) => {
          const p = Array.isArray(params) ? params[0] : params;
          return escapeHtml(p.dataType === "edge" ? String((p.data as { tip?: string }).tip ?? "") : (names.get(p.name) ?? ""));
        },
      },
      series: [
        {
          type: "graph",
          layout: "force",
          roam: true,
          draggable: true,
          force: { repulsion: 260, edgeLength: 110 },
          edgeSymbol: ["none", "arrow"],
          label: { show: true, position: "right", formatter: (p) => names.get(p.name) ?? "" },
          data: nodes.map((n) => ({
            name: n.id,
            symbolSize: n.hops === 0 ? 30 : 18,
            itemStyle: { color: HOP_COLOURS[Math.min(n.hops, HOP_COLOURS.length - 1)], borderColor: n.onPath ? "#000" : undefined, borderWidth: n.onPath ? 3 : 0 },
          })),
          links: edges.map((e) => ({
            source: e.source,
            target: e.target,
            tip: typeOf(e.relationship),
            lineStyle: e.onPath ? { width: 4, color: "#c92a2a" } : { width: 1.5, color: "#495057" },
          })),
        },
      ],
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [nodes, edges, t]);
  return (
    <Stack>
      <Chart option={option} label={label} height={420} onSelect={onSelect} />
      <Table>
        <TableHead heads={[t("customers.name"), t("network.distance"), t("network.reachedBy")]} />
        <Table.Tbody>
          {nodes.slice(1).map((n) => {
            const via = edges.find((e) => e.id === n.via);
            return (
              <Table.Tr key={n.id}>
                <Table.Td>
                  <Link to={`/customers/${encodeURIComponent(n.id)}`}>{n.label}</Link>
                </Table.Td>
                <Table.Td>{n.hops}</Table.Td>
                <Table.Td>
                  {via && (
                    <>
                      {names.get(via.source)} · <RelationshipName relationship={via.relationship} /> · {names.get(via.target)}
                    </>
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {nodes.length === 1 && <Text>{t("network.alone")}</Text>}
    </Stack>
  );
}

function GroupTree({ id }: { id: string }) {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => customers.getGroupTree({ partyId: id }), [id]);
  return (
    <Section title={t("network.group")}>
      <Loaded call={call} retry={retry}>
        {(found) => {
          const root = treeOf(found.nodes);
          if (!root || root.children.length === 0) return <Text>{t("network.noGroup")}</Text>;
          const option: ChartOption = {
            tooltip: {},
            series: [
              {
                type: "tree",
                data: [toChart(root)],
                orient: "LR",
                initialTreeDepth: -1,
                label: { position: "left", verticalAlign: "middle", align: "right" },
                leaves: { label: { position: "right", align: "left" } },
                itemStyle: { color: "#1864ab" },
              },
            ],
          };
          return (
            <Stack>
              <Chart option={option} label={t("network.groupLabel", { name: root.label })} height={Math.max(200, found.nodes.length * 28)} />
              <List>
                <Nested branch={root} current={id} />
              </List>
            </Stack>
          );
        }}
      </Loaded>
    </Section>
  );
}

/** A branch for the tree chart: its label is the name, since a tree names nodes by it. */
function toChart(b: Branch): { name: string; children: ReturnType<typeof toChart>[] } {
  return { name: b.label, children: b.children.map(toChart) };
}

/** A member of the group and those below it, as items of nested lists (the tree in words). */
function Nested({ branch, current }: { branch: Branch; current: string }) {
  return (
    <List.Item>
      {branch.name === current ? <strong>{branch.label}</strong> : <Link to={`/customers/${encodeURIComponent(branch.name)}`}>{branch.label}</Link>}
      {branch.children.length > 0 && (
        <List withPadding>
          {branch.children.map((c) => (
            <Nested key={c.name} branch={c} current={current} />
          ))}
        </List>
      )}
    </List.Item>
  );
}

function relationshipLabel(r: Relationship, t: (key: string) => string): string {
  const kind = r.customType || t(`relationshipTypes.${r.type}`);
  return r.role ? `${kind} (${r.role})` : kind;
}

function RelationshipName({ relationship }: { relationship?: Relationship }) {
  const { t } = useTranslation();
  return <>{relationship ? relationshipLabel(relationship, t) : ""}</>;
}
