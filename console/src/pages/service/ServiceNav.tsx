// The service desk's pages.
import { useTranslation } from "react-i18next";
import { SubNav } from "../../components/SubNav";

export function ServiceNav() {
  const { t } = useTranslation();
  return (
    <SubNav
      label={t("nav.cases")}
      pages={[
        { to: "/cases", label: "cases.queueNav", action: "service.cases" },
        { to: "/service/call-lists", label: "callLists.title", action: "service.work" },
        { to: "/service/report", label: "serviceReport.title", action: "service.cases" },
      ]}
    />
  );
}
