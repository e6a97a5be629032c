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
import { SearchPicker } from "../../components/SearchPicker";
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

/** A product found for a quote, with its price in the chosen book. */
type Offered = { id: string; label: string };

/** How many products one search offers. */
const OFFERED = 20;

/**
 * A draft quote of one or more products, priced by the chosen price book. Products are found by
 * the start of their name or SKU, among those the book prices: a catalog has thousands.
 */
function NewQuote({ opportunityId, onCreated }: { opportunityId: string; onCreated: () => void }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [bookId, setBookId] = useState("");
  const [lines, setLines] = useState<{ product: Offered; quantity: number }[]>([]);
  const [picked, setPicked] = useState<Offered | null>(null);
  const [quantity, setQuantity] = useState<number | string>(1);
  const [discount, setDiscount] = useState<number | string>(0);
  const [validUntil, setValidUntil] = useState("");
  const [action, run] = useAction();
  const [books] = useCall(() => catalog.listPriceBooks({ pageSize: 100 }), []);

  // The active products starting with what was typed that the book prices, with their price.
  const search = async (query: string): Promise<Offered[]> => {
    const { products } = await catalog.listProducts({ query, activeOnly: true, pageSize: OFFERED });
    if (products.length === 0) return [];
    const { prices } = await catalog.listPrices({ priceBookId: bookId, productIds: products.map((p) => p.id), pageSize: OFFERED });
    const priced = new Map(prices.map((p) => [p.productId, p.unitPrice]));
    return products.flatMap((p) => {
      const price = priced.get(p.id);
      return price ? [{ id: p.id, label: `${p.name} (${p.sku}) · ${money(price.amountMinor, price.currencyCode, locale)}` }] : [];
    });
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await run(() =>
      orders.createQuote({
        quote: {
          opportunityId,
          priceBookId: bookId,
          lines: lines.map((l) => ({ productId: l.product.id, quantity: BigInt(l.quantity) })),
          discountBps: Math.round(Number(discount) * 100),
          validUntil,
        },
      }),
    );
    if (ok) {
      setLines([]);
      setPicked(null);
      onCreated();
    }
  };

  return (
    <Stack component="section" gap="xs" aria-label={t("quotes.new")}>
      <Title order={3} size="h5" mt="md">
        {t("quotes.new")}
      </Title>
      <Loaded call={books}>
        {(found) => (
          <NativeSelect
            label={t("quotes.priceBook")}
            value={bookId}
            error={action.fields["quote.price_book_id"]}
            onChange={(e) => {
              setBookId(e.currentTarget.value);
              setPicked(null);
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
        <>
          <SearchPicker<Offered>
            key={bookId}
            label={t("quotes.product")}
            description={t("quotes.productHint")}
            formLabel={t("quotes.findProduct")}
            submit={t("quotes.find")}
            none={t("quotes.noProduct")}
            search={search}
            keyOf={(p) => p.id}
            nameOf={(p) => p.label}
            chosen={picked?.id ?? ""}
            onPick={setPicked}
          />
          <Group align="end">
            <NumberInput label={t("quotes.quantity")} min={1} value={quantity} onChange={setQuantity} w={120} />
            <Button
              variant="default"
              disabled={!picked || Number(quantity) < 1}
              onClick={() => picked && setLines((l) => [...l, { product: picked, quantity: Number(quantity) }])}
            >
              {t("quotes.addLine")}
            </Button>
          </Group>
        </>
      )}
      {lines.length > 0 && (
        <Table aria-label={t("quotes.lines")}>
          <Table.Tbody>
            {lines.map((l, i) => (
              <Table.Tr key={i}>
                <Table.Td>{l.product.label}</Table.Td>
                <Table.Td>× {l.quantity}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <form onSubmit={submit} aria-label={t("quotes.terms")}>
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
      </form>
      {/* The whole message too: it names fields (a line's product) no input stands for. */}
      <Failure action={action} />
    </Stack>
  );
}
