// The parts every table of the console shares: column heads, and a table of facts (a label in
// each row's head cell, its value beside it).
import { Table } from "@mantine/core";
import type { ReactNode } from "react";

/** Column heads, already in the reader's language. */
export function TableHead({ heads }: { heads: string[] }) {
  return (
    <Table.Thead>
      <Table.Tr>
        {heads.map((h, i) => (
          <Table.Th key={`${i}/${h}`} scope="col">
            {h}
          </Table.Th>
        ))}
      </Table.Tr>
    </Table.Thead>
  );
}

/** Labelled values, one a row; the rows without a value are left out. */
export function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <Table>
      <Table.Tbody>
        {rows
          .filter(([, value]) => value !== "" && value !== undefined && value !== null && value !== false)
          .map(([label, value]) => (
            <Table.Tr key={label}>
              <Table.Th scope="row">{label}</Table.Th>
              <Table.Td>{value}</Table.Td>
            </Table.Tr>
          ))}
      </Table.Tbody>
    </Table>
  );
}
