// The pipeline board's columns: the open opportunities of each open stage, a page at a time,
// and what a move does to them.
import type { Opportunity, PipelineStage } from "../../gen/crm/sales/v1/pipeline_pb";

/** One stage's column. */
export interface Column {
  stage: PipelineStage;
  cards: Opportunity[];
  /** The next page's token; empty when every card is shown. */
  next: string;
}

/** The stages a board shows: the open ones, in the pipeline's order. */
export function openStages(stages: PipelineStage[]): PipelineStage[] {
  return stages.filter((s) => !s.isWon && !s.isLost);
}

/** The columns with `page` (with its next token) added to the column of `stageCode`. */
export function withPage(columns: Column[], stageCode: string, page: Opportunity[], next: string): Column[] {
  return columns.map((c) => {
    if (c.stage.code !== stageCode) return c;
    const shown = new Set(c.cards.map((o) => o.id));
    return { ...c, cards: [...c.cards, ...page.filter((o) => !shown.has(o.id))], next };
  });
}

/** The columns once `moved` (as the service answered the move) is in its new stage: out of
 * every other column, first in its own. */
export function withMoved(columns: Column[], moved: Opportunity): Column[] {
  return columns.map((c) => {
    const rest = c.cards.filter((o) => o.id !== moved.id);
    return c.stage.code === moved.stageCode ? { ...c, cards: [moved, ...rest] } : { ...c, cards: rest };
  });
}

/** The card of `id`, wherever it is. */
export function findCard(columns: Column[], id: string): Opportunity | undefined {
  for (const c of columns) {
    const card = c.cards.find((o) => o.id === id);
    if (card) return card;
  }
  return undefined;
}
