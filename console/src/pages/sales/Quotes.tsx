// An opportunity's quotes: presented, accepted (which places the order and wins the deal) or
// rejected, and a new one priced from a price book.
import { Badge, Button, Group, NativeSelect, NumberInput, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { catalog, orders } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Loaded, useCall } from "../../components/Loaded";
import { More, usePaging } from "../../components/Paging";
import { useAction } from "../../components/useAction";
import { calendarDay, money } from "../../format";
import { QuoteStatus, type Quote } from "../../gen/crm/sales/v1/orders_pb";
import { OpportunityStatus, type Opportunity } from "../../gen/crm/sales/v1/pipeline_pb";
import { Section } from "../../components/Section";
import { Failure } from "../../components/Failure";
import { TableHead } from "../../components/TableParts";

const PAGE = 50;

export function Quotes({ deal, onAccepted }: { deal: Opportunity; onAccepted: () => void }) {
  const { t } = useTranslation();
  const mayQuote = can(session.identity(), "sales.sell") && deal.status === OpportunityStatus.OPEN;
  const paging = usePaging();
  const pageToken = paging.token;
  const [call, retry] = useCall(
    () => orders.listQuotes({ opportunityId: deal.id, pageSize: PAGE, pageToken }),
    [deal.id, pageToken],
  );
  const [action, run] = useAction();

  const present = (q: Quote) =>
    run(() => orders.setQuoteStatus({ id: q.id, etag: q.etag, status: QuoteStatus.PRESENTED })).then((ok) => ok && retry());
  const reject = (q: Quote) =>
    run(() => orders.setQuoteStatus({ id: q.id, etag: q.etag, status: QuoteStatus.REJECTED })).then((ok) => ok && retry());
  // Accepting places the order and wins the deal: the whole page reads again.
  const accept = (q: Quote) => run(() => orders.acceptQuote({ id: q.id, etag: q.etag })).then((ok) => ok && onAccepted());

  return (
    <Section title={t("quotes.title")}>
      <Failure action={action} />
      <Loaded call={call} retry={retry}>
        {(page) =>
          page.quotes.length === 0 ? (
            <Text>{t("c360.noneYet")}</Text>
          ) : (
            <QuoteTable
              quotes={page.quotes}
              mayAct={mayQuote && !action.busy}
              onPresent={present}
              onAccept={accept}
              onReject={reject}
              more={<More paging={paging} nextPageToken={page.nextPageToken} size="xs" />}
            />
          )
        }
      </Loaded>
      {mayQuote && <NewQuote opportunityId={deal.id} onCreated={retry} />}
    </Section>
  );
}

function QuoteTable(props: {
  quotes: Quote[];
  mayAct: boolean;
  onPresent: (q: Quote) => void;
  onAccept: (q: Quote) => void;
  onReject: (q: Quote) => void;
  more: ReactNode;
}) {
  const { quotes, mayAct, onPresent, onAccept, onReject, more } = props;
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  return (
    <>
      <Table>
        <TableHead heads={[t("quotes.number"), t("quotes.status"), t("quotes.total"), t("quotes.validUntil"), t("quotes.actions")]} />
        <Table.Tbody>
          {quotes.map((q) => {
            const label = `${q.number} r${q.revision}`;
            const open = q.status === QuoteStatus.DRAFT || q.status === QuoteStatus.PRESENTED;
            return (
              <Table.Tr key={q.id}>
                <Table.Td>{label}</Table.Td>
                <Table.Td>
                  <Badge {...(q.status === QuoteStatus.ACCEPTED ? { color: "teal.9" } : { variant: "light" })}>
                    {t(`quotes.statuses.${q.status}`)}
                  </Badge>
                  {q.orderId && (
                    <Text size="xs" c="gray.7">
                      {t("quotes.order", { id: q.orderId })}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{q.total ? money(q.total.amountMinor, q.total.currencyCode, locale) : ""}</Table.Td>
                <Table.Td>{q.validUntil ? calendarDay(q.validUntil, locale) : "—"}</Table.Td>
                <Table.Td>
                  {mayAct && open && (
                    <Group gap="xs" wrap="nowrap">
                      {q.status === QuoteStatus.DRAFT && (
                        <Button size="xs" variant="default" onClick={() => onPresent(q)} aria-label={t("quotes.presentOne", { quote: label })}>
                          {t("quotes.present")}
                        </Button>
                      )}
                      <Button size="xs" onClick={() => onAccept(q)} aria-label={t("quotes.acceptOne", { quote: label })}>
                        {t("quotes.accept")}
                      </Button>
                      <Button size="xs" variant="default" color="red" onClick={() => onReject(q)} aria-label={t("quotes.rejectOne", { quote: label })}>
                        {t("quotes.reject")}
                      </Button>
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {more}
    </>
  );
}

/** A draft quote of one or more products, priced by the chosen price book. */
function NewQuote({ opportunityId, onCreated }: { opportunityId: string; onCreated: () => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [bookId, setBookId] = useState("");
  const [lines, setLines] = useState<{ productId: string; quantity: number }[]>([]);
  const [productId, setProductId] = useState("");
  const [quantity, setQuantity] = useState<number | string>(1);
  const [discount, setDiscount] = useState<number | string>(0);
  const [validUntil, setValidUntil] = useState("");
  const [action, run] = useAction();
  const [books] = useCall(() => catalog.listPriceBooks({ pageSize: 100 }), []);
  // The chosen book's prices, with the products' names (the first 500 of each).
  const [offer] = useCall(async () => {
    if (!bookId) return { prices: [], names: new Map<string, string>() };
    const [prices, products] = await Promise.all([
      catalog.listPrices({ priceBookId: bookId, pageSize: 500 }),
      catalog.listProducts({ activeOnly: true, pageSize: 500 }),
    ]);
    return { prices: prices.prices, names: new Map(products.products.map((p) => [p.id, `${p.name} (${p.sku})`])) };
  }, [bookId]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await run(() =>
      orders.createQuote({
        quote: {
          opportunityId,
          priceBookId: bookId,
          lines: lines.map((l) => ({ productId: l.productId, quantity: BigInt(l.quantity) })),
          discountBps: Math.round(Number(discount) * 100),
          validUntil,
        },
      }),
    );
    if (ok) {
      setLines([]);
      onCreated();
    }
  };

  return (
    <form onSubmit={submit} aria-label={t("quotes.new")}>
      <Title order={3} size="h5" mt="md" mb="xs">
        {t("quotes.new")}
      </Title>
      <Stack gap="xs">
        <Loaded call={books}>
          {(found) => (
            <NativeSelect
              label={t("quotes.priceBook")}
              value={bookId}
              error={action.fields["quote.price_book_id"]}
              onChange={(e) => {
                setBookId(e.currentTarget.value);
                setProductId("");
                setLines([]);
              }}
              data={[
                { value: "", label: "—" },
                ...found.priceBooks.map((b) => ({ value: b.id, label: `${b.name} (${b.currencyCode})` })),
              ]}
            />
          )}
        </Loaded>
        {bookId && (
          <Loaded call={offer}>
            {({ prices, names }) => (
              <Group align="end">
                <NativeSelect
                  label={t("quotes.product")}
                  value={productId}
                  onChange={(e) => setProductId(e.currentTarget.value)}
                  data={[
                    { value: "", label: "—" },
                    ...prices.map((p) => ({
                      value: p.productId,
                      label: `${names.get(p.productId) ?? p.productId} · ${p.unitPrice ? money(p.unitPrice.amountMinor, p.unitPrice.currencyCode, locale) : ""}`,
                    })),
                  ]}
                  style={{ flex: 1 }}
                />
                <NumberInput label={t("quotes.quantity")} min={1} value={quantity} onChange={setQuantity} w={120} />
                <Button
                  variant="default"
                  disabled={!productId || Number(quantity) < 1}
                  onClick={() => setLines((l) => [...l, { productId, quantity: Number(quantity) }])}
                >
                  {t("quotes.addLine")}
                </Button>
              </Group>
            )}
          </Loaded>
        )}
        {lines.length > 0 && (
          <Table aria-label={t("quotes.lines")}>
            <Table.Tbody>
              {lines.map((l, i) => (
                <Table.Tr key={i}>
                  <Table.Td>{offer.state === "done" ? (offer.value.names.get(l.productId) ?? l.productId) : l.productId}</Table.Td>
                  <Table.Td>× {l.quantity}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <Group align="end">
          <NumberInput
            label={t("quotes.discount")}
            min={0}
            max={100}
            decimalScale={2}
            value={discount}
            onChange={setDiscount}
            error={action.fields["quote.discount_bps"]}
            w={160}
          />
          <TextInput
            type="date"
            label={t("quotes.validUntil")}
            value={validUntil}
            onChange={(e) => setValidUntil(e.currentTarget.value)}
            error={action.fields["quote.valid_until"]}
          />
          <Button type="submit" loading={action.busy}>
            {t("quotes.create")}
          </Button>
        </Group>
        {/* The whole message too: it names fields (a line's product) no input stands for. */}
        <Failure action={action} />
      </Stack>
    </form>
  );
}
