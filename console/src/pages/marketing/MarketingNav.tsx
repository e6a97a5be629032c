// The marketing area's pages (campaigns have their own place in the header).
import { useTranslation } from "react-i18next";
import { SubNav } from "../../components/SubNav";

export function MarketingNav() {
  const { t } = useTranslation();
  return (
    <SubNav
      label={t("nav.marketing")}
      pages={[
        { to: "/marketing", label: "marketing.rfmNav", action: "marketing.read" },
        { to: "/marketing/predictions", label: "predictions.title", action: "marketing.read" },
      ]}
    />
  );
}
