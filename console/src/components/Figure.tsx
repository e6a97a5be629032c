// One headline figure of a report (a count, a share, an amount) under its label, grouped so a
// screen reader says the two together.
import { Text } from "@mantine/core";

export function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div role="group" aria-label={label}>
      <Text size="sm">{label}</Text>
      <Text fw={700} size="xl">
        {value}
      </Text>
    </div>
  );
}
