// Paging through a list the service returns a page at a time: the page shown is named by its
// token, and "More" goes on to the next.
import { Button } from "@mantine/core";
import { useCallback, useState } from "react";
import { useTranslation } from "react-i18next";

/** The page being shown. */
export interface Paging {
  /** Its token: empty for the first page. */
  token: string;
  /** Shows the page of `token`. */
  next: (token: string) => void;
  /** Back to the first page (the filters changed, or a record was added). */
  reset: () => void;
}

export function usePaging(): Paging {
  const [token, setToken] = useState("");
  const reset = useCallback(() => setToken(""), []);
  return { token, next: setToken, reset };
}

/** The button to the next page, when there is one. */
export function More({ paging, nextPageToken, size }: { paging: Paging; nextPageToken: string; size?: "xs" }) {
  const { t } = useTranslation();
  if (!nextPageToken) return null;
  return (
    <Button variant="light" size={size} onClick={() => paging.next(nextPageToken)}>
      {t("customers.more")}
    </Button>
  );
}
