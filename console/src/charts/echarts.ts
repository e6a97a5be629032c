// The parts of ECharts the console draws with, registered once: only these are bundled, and
// only into the pages that draw.
import { BarChart, FunnelChart, GraphChart, TreeChart } from "echarts/charts";
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import type { ComposeOption } from "echarts/core";
import type { BarSeriesOption, FunnelSeriesOption, GraphSeriesOption, TreeSeriesOption } from "echarts/charts";
import type {
  GridComponentOption,
  LegendComponentOption,
  MarkLineComponentOption,
  TooltipComponentOption,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  FunnelChart,
  GraphChart,
  TreeChart,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
  SVGRenderer,
]);

/** What a chart of the console may be given. */
export type ChartOption = ComposeOption<
  | BarSeriesOption
  | FunnelSeriesOption
  | GraphSeriesOption
  | TreeSeriesOption
  | GridComponentOption
  | LegendComponentOption
  | MarkLineComponentOption
  | TooltipComponentOption
>;

export { echarts };

/** `text` made safe to place in a tooltip, which ECharts writes as HTML: names come from users. */
export function escapeHtml(text: string): string {
  return echarts.format.encodeHTML(text);
}
