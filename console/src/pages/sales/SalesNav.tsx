// The sales area's pages.
import { useTranslation } from "react-i18next";
import { SubNav } from "../../components/SubNav";

export function SalesNav() {
  const { t } = useTranslation();
  return (
    <SubNav
      label={t("nav.sales")}
      pages={[
        { to: "/pipeline", label: "pipeline.board", action: "sales.pipeline" },
        { to: "/leads", label: "leads.title", action: "sales.pipeline" },
        { to: "/sales/reports", label: "reports.title", action: "sales.pipeline" },
        { to: "/sales/alerts", label: "alerts.title", action: "sales.pipeline" },
        { to: "/sales/organisation", label: "org.title", action: "sales.pipeline" },
      ]}
    />
  );
}
