// The customers area's pages.
import { useTranslation } from "react-i18next";
import { SubNav } from "../../components/SubNav";

export function CustomersNav() {
  const { t } = useTranslation();
  return (
    <SubNav
      label={t("nav.customers")}
      pages={[
        { to: "/customers", label: "customers.find", action: "customers.search" },
        { to: "/customers/value", label: "value.title", action: "customers.search" },
        { to: "/customers/duplicates", label: "duplicates.title", action: "customers.merge" },
        { to: "/customers/export", label: "export.title", action: "customers.search" },
      ]}
    />
  );
}
