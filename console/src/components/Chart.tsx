// A chart or graph drawn by ECharts, as SVG. It is an image to assistive technology, named by
// `label`; every page that shows one also gives its figures in a table, so nothing is known from
// the picture alone.
import { useEffect, useRef } from "react";
import { echarts, type ChartOption } from "../charts/echarts";

export function Chart({ option, label, height = 320, onSelect }: {
  option: ChartOption;
  label: string;
  height?: number;
  /** Called with the `name` of a data item the reader clicks (a node, a bar). */
  onSelect?: (name: string) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<ReturnType<typeof echarts.init> | null>(null);
  const selected = useRef(onSelect);
  selected.current = onSelect;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const instance = echarts.init(element, undefined, { renderer: "svg" });
    chart.current = instance;
    instance.on("click", (params) => {
      if (typeof params.name === "string" && params.name) selected.current?.(params.name);
    });
    // The page's width changes with the window and the navigation; the chart follows it.
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(element);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption({ animation: false, ...option }, { notMerge: true });
  }, [option]);

  // ECharts owns the inner element (and would name it itself); the outer one is the image.
  return (
    <div role="img" aria-label={label}>
      <div ref={box} style={{ width: "100%", height }} />
    </div>
  );
}
