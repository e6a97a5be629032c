// The sales organisation: departments, their teams and reps; the territories accounts are
// assigned by; the quotas of a period, which a manager sets here.
import { Button, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { salesOrg } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Listing } from "../../components/Listing";
import { PeriodInput, quarterOf } from "../../components/PeriodInput";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { money, toMinor } from "../../format";
import { QuotaOwnerKind, type GetOrganizationResponse } from "../../gen/crm/sales/v1/org_pb";
import { ownerName } from "./reports";
import { SalesNav } from "./SalesNav";

export function Organisation() {
  const { t } = useTranslation();
  const [call, retry] = useCall(() => salesOrg.getOrganization({}), []);
  return (
    <Stack>
      <SalesNav />
      <Title order={1}>{t("org.title")}</Title>
      <Loaded call={call} retry={retry}>
        {(org) => (
          <>
            <Teams org={org} />
            {can(session.identity(), "sales.manage") && <Build org={org} onChanged={retry} />}
            <Territories org={org} />
            <Quotas org={org} />
          </>
        )}
      </Loaded>
    </Stack>
  );
}

function Teams({ org }: { org: GetOrganizationResponse }) {
  const { t } = useTranslation();
  const department = (id: string) => org.departments.find((d) => d.id === id)?.name ?? id;
  return (
    <Section title={t("org.teams")}>
      <Listing
        items={org.teams}
        head={[t("org.team"), t("org.department"), t("org.manager"), t("org.reps"), t("org.teamId")]}
        row={(team) => (
          <Table.Tr key={team.id}>
            <Table.Th scope="row">{team.name}</Table.Th>
            <Table.Td>{department(team.departmentId)}</Table.Td>
            <Table.Td>{ownerName(QuotaOwnerKind.REP, team.managerUserId, org)}</Table.Td>
            <Table.Td>
              {org.reps
                .filter((r) => r.teamId === team.id)
                .map((r) => (r.active ? r.displayName || r.userId : t("org.inactive", { name: r.displayName || r.userId })))
                .join(", ")}
            </Table.Td>
            {/* What a manager's token names (the identity provider's team claim). */}
            <Table.Td>
              <Text size="xs">{team.id}</Text>
            </Table.Td>
          </Table.Tr>
        )}
      />
    </Section>
  );
}

/** Adding to the organisation: a department, a team in it, a rep in a team. */
function Build({ org, onChanged }: { org: GetOrganizationResponse; onChanged: () => void }) {
  const { t } = useTranslation();
  const [action, run] = useAction();
  const [department, setDepartment] = useState({ name: "", parentId: "" });
  const [team, setTeam] = useState({ name: "", departmentId: "", managerUserId: "" });
  const [rep, setRep] = useState({ userId: "", displayName: "", teamId: "" });
  const submit = (change: () => Promise<unknown>, clear: () => void) => async (event: FormEvent) => {
    event.preventDefault();
    if (await run(change)) {
      clear();
      onChanged();
    }
  };
  const departments = org.departments.map((d) => ({ value: d.id, label: d.name }));
  const teams = org.teams.map((x) => ({ value: x.id, label: x.name }));
  return (
    <Section title={t("org.build")}>
      <Failure action={action} />
      <Stack>
        <form
          aria-label={t("org.addDepartment")}
          onSubmit={submit(
            () => salesOrg.createDepartment({ department }),
            () => setDepartment({ name: "", parentId: "" }),
          )}
        >
          <Group align="end">
            <TextInput label={t("org.departmentName")} required value={department.name} onChange={(e) => setDepartment({ ...department, name: e.currentTarget.value })} error={action.fields["department.name"]} />
            <NativeSelect
              label={t("org.within")}
              value={department.parentId}
              onChange={(e) => setDepartment({ ...department, parentId: e.currentTarget.value })}
              data={[{ value: "", label: t("org.topLevel") }, ...departments]}
            />
            <Button type="submit" variant="default" loading={action.busy}>
              {t("org.addDepartment")}
            </Button>
          </Group>
        </form>
        {departments.length > 0 && (
          <form
            aria-label={t("org.addTeam")}
            onSubmit={submit(
              () => salesOrg.createTeam({ team: { ...team, departmentId: team.departmentId || departments[0].value } }),
              () => setTeam({ name: "", departmentId: "", managerUserId: "" }),
            )}
          >
            <Group align="end">
              <TextInput label={t("org.teamName")} required value={team.name} onChange={(e) => setTeam({ ...team, name: e.currentTarget.value })} error={action.fields["team.name"]} />
              <NativeSelect label={t("org.department")} value={team.departmentId} onChange={(e) => setTeam({ ...team, departmentId: e.currentTarget.value })} data={departments} />
              <TextInput label={t("org.managerId")} value={team.managerUserId} onChange={(e) => setTeam({ ...team, managerUserId: e.currentTarget.value })} error={action.fields["team.manager_user_id"]} />
              <Button type="submit" variant="default" loading={action.busy}>
                {t("org.addTeam")}
              </Button>
            </Group>
          </form>
        )}
        {teams.length > 0 && (
          <form
            aria-label={t("org.addRep")}
            onSubmit={submit(
              () => salesOrg.upsertRep({ rep: { ...rep, teamId: rep.teamId || teams[0].value, active: true } }),
              () => setRep({ userId: "", displayName: "", teamId: "" }),
            )}
          >
            <Group align="end">
              <TextInput label={t("org.repId")} required value={rep.userId} onChange={(e) => setRep({ ...rep, userId: e.currentTarget.value })} error={action.fields["rep.user_id"]} />
              <TextInput label={t("org.repName")} required value={rep.displayName} onChange={(e) => setRep({ ...rep, displayName: e.currentTarget.value })} error={action.fields["rep.display_name"]} />
              <NativeSelect label={t("org.team")} value={rep.teamId} onChange={(e) => setRep({ ...rep, teamId: e.currentTarget.value })} data={teams} />
              <Button type="submit" variant="default" loading={action.busy}>
                {t("org.addRep")}
              </Button>
            </Group>
          </form>
        )}
      </Stack>
    </Section>
  );
}

function Territories({ org }: { org: GetOrganizationResponse }) {
  const { t } = useTranslation();
  const paging = usePaging();
  const [call, retry] = useCall(() => salesOrg.listTerritories({ pageSize: 100, pageToken: paging.token }), [paging.token]);
  const any = t("org.any");
  return (
    <Section title={t("org.territories")}>
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.territories}
            head={[t("org.territory"), t("org.industries"), t("org.regions"), t("org.productLines"), t("org.priority"), t("org.team")]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(x) => (
              <Table.Tr key={x.id}>
                <Table.Th scope="row">{x.name}</Table.Th>
                <Table.Td>{x.industries.join(", ") || any}</Table.Td>
                <Table.Td>{x.regionCodes.join(", ") || any}</Table.Td>
                <Table.Td>{x.productLines.join(", ") || any}</Table.Td>
                <Table.Td>{x.priority}</Table.Td>
                <Table.Td>{ownerName(QuotaOwnerKind.TEAM, x.teamId, org)}</Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
    </Section>
  );
}

function Quotas({ org }: { org: GetOrganizationResponse }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [period, setPeriod] = useState(() => quarterOf(new Date()));
  const paging = usePaging();
  const [call, retry] = useCall(() => salesOrg.listQuotas({ period, pageSize: 100, pageToken: paging.token }), [period, paging.token]);
  return (
    <Section title={t("org.quotas")}>
      <PeriodInput
        value={period}
        w={200}
        onChange={(next) => {
          paging.reset();
          setPeriod(next);
        }}
      />
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.quotas}
            none={t("reports.noQuotas")}
            head={[t("reports.owner"), t("reports.ownerKind"), t("org.productLine"), t("reports.quota")]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(q) => (
              <Table.Tr key={`${q.ownerKind}/${q.ownerId}/${q.productLine}`}>
                <Table.Th scope="row">{ownerName(q.ownerKind, q.ownerId, org)}</Table.Th>
                <Table.Td>{t(`reports.ownerKinds.${q.ownerKind}`)}</Table.Td>
                <Table.Td>{q.productLine || t("org.any")}</Table.Td>
                <Table.Td>{q.amount ? money(q.amount.amountMinor, q.amount.currencyCode, locale) : ""}</Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
      {can(session.identity(), "sales.manage") && (
        <SetQuota
          org={org}
          period={period}
          onSet={() => {
            paging.reset();
            retry();
          }}
        />
      )}
    </Section>
  );
}

function SetQuota({ org, period, onSet }: { org: GetOrganizationResponse; period: string; onSet: () => void }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState(QuotaOwnerKind.REP);
  const [owner, setOwner] = useState("");
  const [amount, setAmount] = useState("");
  const [currency, setCurrency] = useState("USD");
  const [action, run] = useAction();
  const owners =
    kind === QuotaOwnerKind.REP
      ? org.reps.map((r) => ({ value: r.userId, label: r.displayName || r.userId }))
      : kind === QuotaOwnerKind.TEAM
        ? org.teams.map((x) => ({ value: x.id, label: x.name }))
        : org.departments.map((d) => ({ value: d.id, label: d.name }));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const quota = { ownerKind: kind, ownerId: owner || owners[0]?.value || "", period, amount: { currencyCode: currency, amountMinor: toMinor(amount, currency) } };
    if (await run(() => salesOrg.setQuota({ quota }))) onSet();
  };
  return (
    <form onSubmit={submit} aria-label={t("org.setQuota")}>
      <Text fw={600} mt="md">
        {t("org.setQuota")}
      </Text>
      <Failure action={action} />
      <Group align="end">
        <NativeSelect
          label={t("reports.ownerKind")}
          value={String(kind)}
          onChange={(e) => {
            setKind(Number(e.currentTarget.value));
            setOwner("");
          }}
          data={[QuotaOwnerKind.REP, QuotaOwnerKind.TEAM, QuotaOwnerKind.DEPARTMENT].map((k) => ({ value: String(k), label: t(`reports.ownerKinds.${k}`) }))}
        />
        <NativeSelect label={t("reports.owner")} value={owner} onChange={(e) => setOwner(e.currentTarget.value)} data={owners} error={action.fields["quota.owner_id"]} />
        <TextInput label={t("reports.quota")} type="number" min={0} required value={amount} onChange={(e) => setAmount(e.currentTarget.value)} error={action.fields["quota.amount"]} />
        <TextInput label={t("reports.currency")} value={currency} maxLength={3} w={90} onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase())} />
        <Button type="submit" variant="default" loading={action.busy}>
          {t("org.set")}
        </Button>
      </Group>
    </form>
  );
}
