// A list the service returned, the same way on every page: "None" when it is empty, otherwise a
// table under its column heads, with the button to the next page when there is one.
import { Table, Text, type TableProps } from "@mantine/core";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { TableHead } from "./TableParts";

export function Listing<T>(props: {
  items: T[];
  /** Column heads; none for a table that reads without them. */
  head?: string[];
  /** One item's row (a `Table.Tr` with its key). */
  row: (item: T) => ReactNode;
  /** Below the table: the next page's button. */
  more?: ReactNode;
  table?: TableProps;
  /** What an empty list says ("None" unless told). */
  none?: string;
}) {
  const { items, head, row, more, table, none } = props;
  const { t } = useTranslation();
  if (items.length === 0) return <Text>{none ?? t("c360.noneYet")}</Text>;
  return (
    <>
      <Table {...table}>
        {head && <TableHead heads={head} />}
        <Table.Tbody>{items.map(row)}</Table.Tbody>
      </Table>
      {more}
    </>
  );
}
