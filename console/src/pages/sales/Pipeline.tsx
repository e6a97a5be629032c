// The pipeline as a board by stage: each open stage's open opportunities, a page at a time.
// A seller drags a card to another stage, or picks the stage from the card's own menu (the
// keyboard's way); the service checks the card's version, so a deal someone else moved
// meanwhile is refused, not overwritten.
import { Alert, Badge, Button, Card, Group, NativeSelect, Stack, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { describe, pipeline } from "../../api/clients";
import { can } from "../../auth/access";
import { session } from "../../auth/session";
import { Link } from "../../components/Link";
import { Loaded, useCall } from "../../components/Loaded";
import { calendarDay, money, share } from "../../format";
import { OpportunityStatus, type Opportunity, type PipelineStage } from "../../gen/crm/sales/v1/pipeline_pb";
import { findCard, openStages, withMoved, withPage, type Column } from "./board";
import { SalesNav } from "./SalesNav";
import { currentDaysLate } from "./stages";

/** Cards per stage and page. */
const PAGE = 25;

async function stagePage(stageCode: string, pageToken = "") {
  return pipeline.listOpportunities({ stageCode, status: OpportunityStatus.OPEN, pageSize: PAGE, pageToken });
}

export function Pipeline() {
  const { t } = useTranslation();
  const [call, retry] = useCall(async () => {
    const stages = openStages((await pipeline.getPipeline({})).stages);
    return Promise.all(
      stages.map(async (stage): Promise<Column> => {
        const page = await stagePage(stage.code);
        return { stage, cards: page.opportunities, next: page.nextPageToken };
      }),
    );
  }, []);
  return (
    <Stack>
      <SalesNav />
      <Title order={1}>{t("pipeline.title")}</Title>
      <Loaded call={call} retry={retry}>
        {(columns) => <Board initial={columns} />}
      </Loaded>
    </Stack>
  );
}

function Board({ initial }: { initial: Column[] }) {
  const { t } = useTranslation();
  const mayMove = can(session.identity(), "sales.sell");
  const [columns, setColumns] = useState(initial);
  const [moving, setMoving] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [said, setSaid] = useState("");
  const stages = columns.map((c) => c.stage);

  const move = async (id: string, stageCode: string) => {
    const card = findCard(columns, id);
    if (!card || card.stageCode === stageCode || moving) return;
    setMoving(id);
    setFailure(null);
    try {
      const { opportunity } = await pipeline.moveOpportunityStage({ id, etag: card.etag, stageCode });
      if (opportunity) {
        setColumns((c) => withMoved(c, opportunity));
        const stage = stages.find((s) => s.code === stageCode);
        setSaid(t("pipeline.moved", { name: card.name, stage: stage?.name ?? stageCode }));
      }
    } catch (err) {
      setFailure(t("pipeline.moveFailed", { name: card.name, message: describe(err) }));
    } finally {
      setMoving(null);
    }
  };

  const more = async (stageCode: string, token: string) => {
    try {
      const page = await stagePage(stageCode, token);
      setColumns((c) => withPage(c, stageCode, page.opportunities, page.nextPageToken));
    } catch (err) {
      setFailure(describe(err));
    }
  };

  return (
    <Stack>
      {failure && (
        <Alert color="red" role="alert" withCloseButton onClose={() => setFailure(null)}>
          {failure}
        </Alert>
      )}
      {/* Announces each move to screen readers. */}
      <Text className="visually-hidden" role="status" aria-live="polite">
        {said}
      </Text>
      {/* Focusable, so a keyboard can scroll the columns that do not fit. */}
      <div className="board" role="group" aria-label={t("pipeline.stages")} tabIndex={0}>
        {columns.map((column) => (
          <Card
            key={column.stage.code}
            component="section"
            aria-label={column.stage.name}
            className="board-column"
            withBorder
            bg="gray.0"
            data-stage={column.stage.code}
            onDragOver={(e) => mayMove && e.preventDefault()}
            onDrop={(e) => {
              e.preventDefault();
              void move(e.dataTransfer.getData("text/plain"), column.stage.code);
            }}
          >
            <Group justify="space-between" mb="xs" wrap="nowrap">
              <Title order={2} size="h5">
                {column.stage.name}
              </Title>
              <Badge variant="light" aria-label={t("pipeline.shown", { count: column.cards.length })}>
                {column.cards.length}
                {column.next ? "+" : ""}
              </Badge>
            </Group>
            <Stack gap="xs">
              {column.cards.map((deal) => (
                <DealCard
                  key={deal.id}
                  deal={deal}
                  stages={stages}
                  mayMove={mayMove}
                  busy={moving === deal.id}
                  onMove={(stageCode) => void move(deal.id, stageCode)}
                />
              ))}
              {column.cards.length === 0 && (
                <Text size="sm" c="gray.7">
                  {t("pipeline.empty")}
                </Text>
              )}
              {column.next && (
                <Button variant="subtle" size="xs" onClick={() => void more(column.stage.code, column.next)}>
                  {t("pipeline.more")}
                </Button>
              )}
            </Stack>
          </Card>
        ))}
      </div>
    </Stack>
  );
}

function DealCard(props: {
  deal: Opportunity;
  stages: PipelineStage[];
  mayMove: boolean;
  busy: boolean;
  onMove: (stageCode: string) => void;
}) {
  const { deal, stages, mayMove, busy, onMove } = props;
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const late = currentDaysLate(deal.stageHistory, new Date());
  return (
    <Card
      withBorder
      padding="sm"
      draggable={mayMove && !busy}
      onDragStart={(e) => {
        e.dataTransfer.setData("text/plain", deal.id);
        e.dataTransfer.effectAllowed = "move";
      }}
      style={{ cursor: mayMove ? "grab" : undefined, opacity: busy ? 0.5 : 1 }}
      aria-busy={busy}
      data-deal={deal.id}
    >
      <Link to={`/opportunities/${encodeURIComponent(deal.id)}`}>{deal.name}</Link>
      <Text size="sm">
        {deal.amount ? money(deal.amount.amountMinor, deal.amount.currencyCode, locale) : ""}
        {" · "}
        {share(deal.winProbabilityBps, locale)}
      </Text>
      {deal.expectedCloseDate && (
        <Text size="xs" c="gray.7">
          {t("pipeline.closes", { day: calendarDay(deal.expectedCloseDate, locale) })}
        </Text>
      )}
      {late > 0 && (
        <Badge color="yellow.4" autoContrast size="sm">
          {t("pipeline.late", { count: late })}
        </Badge>
      )}
      {mayMove && (
        <NativeSelect
          mt="xs"
          size="xs"
          aria-label={t("pipeline.moveTo", { name: deal.name })}
          value={deal.stageCode}
          disabled={busy}
          data={stages.map((s) => ({ value: s.code, label: s.name }))}
          onChange={(e) => onMove(e.currentTarget.value)}
        />
      )}
    </Card>
  );
}
