// Choosing a customer by searching for them (name, e-mail or phone): the first few matches, one
// click to pick.
import { useTranslation } from "react-i18next";
import { customers } from "../api/clients";
import type { Party } from "../gen/crm/customers/v1/customers_pb";
import { SearchPicker } from "./SearchPicker";

/** Matches offered at once. */
const OFFERED = 5;

export function PartyPicker({ label, onPick, exclude }: { label: string; onPick: (party: Party) => void; exclude?: string }) {
  const { t } = useTranslation();
  return (
    <SearchPicker
      label={label}
      submit={t("customers.submit")}
      none={t("customers.none")}
      required
      search={async (query) => {
        const page = await customers.searchParties({ query, pageSize: OFFERED + 1 });
        return page.parties.filter((p) => p.id !== exclude).slice(0, OFFERED);
      }}
      keyOf={(p) => p.id}
      nameOf={(p) => p.displayName}
      onPick={onPick}
    />
  );
}
