// The partners area's pages.
import { useTranslation } from "react-i18next";
import { SubNav } from "../../components/SubNav";

export function PartnersNav() {
  const { t } = useTranslation();
  return (
    <SubNav
      label={t("nav.partners")}
      pages={[
        { to: "/partners", label: "partners.performanceNav", action: "partners.performance" },
        { to: "/partners/hierarchy", label: "hierarchy.title", action: "partners.staff" },
        { to: "/portal", label: "portal.title", action: "partners.trade" },
      ]}
    />
  );
}
