// The partner portal: the catalog with what is in stock, how fast the rest comes and what is on
// the roadmap; e-orders (each becomes a sales order on the partner's channel, once per
// reference); deal registrations, which the channel's managers approve (it becomes a lead) or
// reject. A partner's own users work for their partner; the channel's staff choose one.
import { Badge, Button, Group, NativeSelect, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { partners, portal } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Failure } from "../../components/Failure";
import { Listing } from "../../components/Listing";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { SearchPicker } from "../../components/SearchPicker";
import { Section } from "../../components/Section";
import { useAction } from "../../components/useAction";
import { calendarDay, count, dateTime, money, toMinor } from "../../format";
import type { Partner } from "../../gen/crm/partners/v1/partners_pb";
import { PartnerOrderStatus, RegistrationStatus, type DealRegistration, type PortalProduct, type RoadmapEntry } from "../../gen/crm/partners/v1/portal_pb";
import { PartnersNav } from "./PartnersNav";

export function Portal() {
  const { t } = useTranslation();
  const own = session.identity()?.partnerId ?? "";
  const [chosen, setChosen] = useState("");
  const partnerId = own || chosen;
  const catalogPaging = usePaging();
  const [catalog, retryCatalog] = useCall(() => portal.getPortalCatalog({ pageSize: 50, pageToken: catalogPaging.token }), [catalogPaging.token]);
  return (
    <Stack>
      <PartnersNav />
      <Title order={1}>{t("portal.title")}</Title>
      {!own && <ChoosePartner value={chosen} onChange={setChosen} />}
      <Section title={t("portal.catalog")}>
        <Loaded call={catalog} retry={retryCatalog}>
          {(found) => (
            <>
              <Catalog products={found.products} upcoming={found.upcoming} />
              <More paging={catalogPaging} nextPageToken={found.nextPageToken} />
            </>
          )}
        </Loaded>
      </Section>
      {partnerId && (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          <Orders partnerId={partnerId} products={catalog.state === "done" ? catalog.value.products : []} />
          <Registrations partnerId={partnerId} />
        </SimpleGrid>
      )}
    </Stack>
  );
}

/** Partners offered at once by a search. */
const OFFERED = 10;

/** The channel's staff choose the partner they act for by the start of its name: a channel has
 * thousands of partners, which no list shows whole. */
function ChoosePartner({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const { t } = useTranslation();
  return (
    <SearchPicker<Partner>
      label={t("portal.partner")}
      description={t("portal.partnerHint")}
      formLabel={t("portal.choosePartner")}
      submit={t("portal.find")}
      none={t("portal.noPartner")}
      search={async (namePrefix) => (await partners.listPartners({ namePrefix, pageSize: OFFERED })).partners}
      keyOf={(p) => p.id}
      nameOf={(p) => p.name}
      chosen={value}
      onPick={(p) => onChange(p.id)}
    />
  );
}

function Catalog({ products, upcoming }: { products: PortalProduct[]; upcoming: RoadmapEntry[] }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  return (
    <Stack>
      <Listing
        items={products}
        none={t("portal.noProducts")}
        head={[t("portal.product"), t("portal.category"), t("portal.inStock"), t("portal.leadTime"), t("portal.capacity"), t("portal.roadmap")]}
        row={(p) => (
          <Table.Tr key={p.productId}>
            <Table.Th scope="row">
              {p.name} <Text span size="xs">({p.sku})</Text>
            </Table.Th>
            <Table.Td>{p.category}</Table.Td>
            <Table.Td>{p.availability ? count(p.availability.inStock, locale) : "—"}</Table.Td>
            <Table.Td>{p.availability ? t("reports.days", { n: p.availability.leadTimeDays }) : "—"}</Table.Td>
            <Table.Td>{p.availability ? t("portal.perWeek", { n: count(p.availability.weeklyCapacity, locale) }) : "—"}</Table.Td>
            <Table.Td>{p.roadmap.map((r) => `${r.title} (${calendarDay(r.availableFrom, locale)})`).join("; ")}</Table.Td>
          </Table.Tr>
        )}
      />
      {upcoming.length > 0 && (
        <Text size="sm">
          {t("portal.upcoming")}: {upcoming.map((u) => `${u.title} (${calendarDay(u.availableFrom, locale)})`).join("; ")}
        </Text>
      )}
    </Stack>
  );
}

function Orders({ partnerId, products }: { partnerId: string; products: PortalProduct[] }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const paging = usePaging();
  const [call, retry] = useCall(() => portal.listPartnerOrders({ partnerId, pageSize: 20, pageToken: paging.token }), [partnerId, paging.token]);
  const [reference, setReference] = useState("");
  const [product, setProduct] = useState("");
  const [quantity, setQuantity] = useState("1");
  const [action, run] = useAction();
  const mayOrder = can(session.identity(), "partners.trade");
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const lines = [{ productId: product || products[0]?.productId || "", quantity: BigInt(Math.max(0, Math.trunc(Number(quantity) || 0))) }];
    if (await run(() => portal.submitOrder({ order: { partnerId, externalRef: reference, lines } }))) {
      setReference("");
      paging.reset();
      retry();
    }
  };
  return (
    <Section title={t("portal.orders")}>
      {mayOrder && products.length > 0 && (
        <form onSubmit={submit} aria-label={t("portal.newOrder")}>
          <Failure action={action} />
          <Group align="end" mb="sm">
            <TextInput label={t("portal.reference")} required value={reference} onChange={(e) => setReference(e.currentTarget.value)} error={action.fields["order.external_ref"]} />
            <NativeSelect label={t("portal.product")} value={product} onChange={(e) => setProduct(e.currentTarget.value)} data={products.map((p) => ({ value: p.productId, label: p.name }))} />
            <TextInput label={t("portal.quantity")} type="number" min={1} w={100} value={quantity} onChange={(e) => setQuantity(e.currentTarget.value)} error={action.fields["order.lines[0].quantity"]} />
            <Button type="submit" loading={action.busy}>
              {t("portal.submitOrder")}
            </Button>
          </Group>
        </form>
      )}
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.orders}
            none={t("portal.noOrders")}
            head={[t("portal.reference"), t("portal.submitted"), t("portal.total"), t("portal.status")]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(o) => (
              <Table.Tr key={o.id}>
                <Table.Th scope="row">{o.externalRef}</Table.Th>
                <Table.Td>{o.submitTime ? dateTime(timestampDate(o.submitTime), locale) : ""}</Table.Td>
                <Table.Td>{o.total ? money(o.total.amountMinor, o.total.currencyCode, locale) : "—"}</Table.Td>
                {/* Wide enough for the status word: a badge truncates rather than wrap. */}
                <Table.Td miw={120}>
                  <Badge color={o.status === PartnerOrderStatus.REJECTED ? "red.9" : o.status === PartnerOrderStatus.PLACED ? "teal.9" : undefined} variant={o.status === PartnerOrderStatus.SUBMITTED ? "light" : "filled"}>
                    {t(`portal.orderStatuses.${o.status}`)}
                  </Badge>
                  {o.reason && <Text size="sm">{o.reason}</Text>}
                </Table.Td>
              </Table.Tr>
            )}
          />
        )}
      </Loaded>
    </Section>
  );
}

const EMPTY_DEAL = { companyName: "", contactName: "", email: "", phone: "", amount: "", currency: "USD", expectedCloseDate: "", notes: "" };

function Registrations({ partnerId }: { partnerId: string }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const paging = usePaging();
  const [call, retry] = useCall(() => portal.listDealRegistrations({ partnerId, pageSize: 20, pageToken: paging.token }), [partnerId, paging.token]);
  const [deal, setDeal] = useState(EMPTY_DEAL);
  const [action, run] = useAction();
  const identity = session.identity();
  const field = (name: keyof typeof EMPTY_DEAL) => ({
    value: deal[name],
    onChange: (e: { currentTarget: { value: string } }) => setDeal({ ...deal, [name]: e.currentTarget.value }),
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { amount, currency, ...rest } = deal;
    const estimatedAmount = amount ? { currencyCode: currency, amountMinor: toMinor(amount, currency) } : undefined;
    if (await run(() => portal.registerDeal({ registration: { ...rest, partnerId, estimatedAmount } }))) {
      setDeal(EMPTY_DEAL);
      paging.reset();
      retry();
    }
  };
  return (
    <Section title={t("portal.registrations")}>
      {can(identity, "partners.trade") && (
        <form onSubmit={submit} aria-label={t("portal.register")}>
          <Failure action={action} />
          <SimpleGrid cols={2} mb="xs">
            <TextInput label={t("leads.company")} required {...field("companyName")} error={action.fields["registration.company_name"]} />
            <TextInput label={t("leads.contactName")} {...field("contactName")} />
            <TextInput label={t("leads.email")} type="email" {...field("email")} error={action.fields["registration.email"]} />
            <TextInput label={t("leads.phone")} type="tel" {...field("phone")} error={action.fields["registration.phone"]} />
            <TextInput label={t("portal.estimate")} type="number" min={0} {...field("amount")} error={action.fields["registration.estimated_amount"]} />
            <TextInput label={t("leads.expectedClose")} type="date" {...field("expectedCloseDate")} error={action.fields["registration.expected_close_date"]} />
          </SimpleGrid>
          <Textarea label={t("leads.notes")} {...field("notes")} />
          <Button type="submit" mt="xs" mb="sm" loading={action.busy}>
            {t("portal.register")}
          </Button>
        </form>
      )}
      <Loaded call={call} retry={retry}>
        {(page) => (
          <Listing
            items={page.registrations}
            none={t("portal.noRegistrations")}
            head={[t("leads.company"), t("portal.estimate"), t("portal.registered"), t("portal.status")]}
            more={<More paging={paging} nextPageToken={page.nextPageToken} />}
            row={(r) => <Registration key={r.id} registration={r} locale={locale} onReviewed={retry} />}
          />
        )}
      </Loaded>
    </Section>
  );
}

function Registration({ registration: r, locale, onReviewed }: { registration: DealRegistration; locale: string; onReviewed: () => void }) {
  const { t } = useTranslation();
  const [reason, setReason] = useState("");
  const [action, run] = useAction();
  const review = async (approve: boolean) => {
    if (await run(() => portal.reviewDealRegistration({ id: r.id, approve, reason }))) onReviewed();
  };
  const pending = r.status === RegistrationStatus.PENDING;
  return (
    <Table.Tr>
      <Table.Th scope="row">{r.companyName}</Table.Th>
      <Table.Td>{r.estimatedAmount ? money(r.estimatedAmount.amountMinor, r.estimatedAmount.currencyCode, locale) : "—"}</Table.Td>
      <Table.Td>{r.registerTime ? dateTime(timestampDate(r.registerTime), locale) : ""}</Table.Td>
      <Table.Td miw={120}>
        <Badge variant="light">{t(`portal.registrationStatuses.${r.status}`)}</Badge> {r.reviewReason && <Text size="sm">{r.reviewReason}</Text>}
        {pending && can(session.identity(), "partners.manage") && (
          <Stack gap={4} mt={4}>
            <Failure action={action} />
            <TextInput size="xs" aria-label={t("portal.reviewReason", { company: r.companyName })} placeholder={t("portal.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} error={action.fields.reason} />
            <Group gap="xs">
              <Button size="xs" color="teal.9" loading={action.busy} onClick={() => void review(true)} aria-label={t("portal.approveThis", { company: r.companyName })}>
                {t("portal.approve")}
              </Button>
              <Button size="xs" variant="default" loading={action.busy} onClick={() => void review(false)} aria-label={t("portal.rejectThis", { company: r.companyName })}>
                {t("portal.reject")}
              </Button>
            </Group>
          </Stack>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
