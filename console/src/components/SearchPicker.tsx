// Choosing one record by searching for it: a search box, the first few matches as buttons, one
// click to pick. The customers and the partners are too many to list in a select.
import { Button, Group, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { describe } from "../api/clients";

export function SearchPicker<T>({
  label,
  description,
  formLabel,
  submit,
  none,
  required,
  search,
  keyOf,
  nameOf,
  chosen,
  onPick,
}: {
  /** The search box's label. */
  label: string;
  description?: string;
  /** The form's name, where a page has several. */
  formLabel?: string;
  /** The search button's text. */
  submit: string;
  /** What shows when nothing matches. */
  none: string;
  required?: boolean;
  /** The matches for what was typed. */
  search: (text: string) => Promise<T[]>;
  keyOf: (item: T) => string;
  nameOf: (item: T) => string;
  /** The key of the item picked, shown pressed. */
  chosen?: string;
  onPick: (item: T) => void;
}) {
  const [text, setText] = useState("");
  const [found, setFound] = useState<T[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const find = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    try {
      setFound(await search(text.trim()));
    } catch (err) {
      setFailure(describe(err));
    }
  };

  return (
    <Stack gap="xs">
      <form onSubmit={find} aria-label={formLabel}>
        <Group align="end">
          <TextInput label={label} description={description} value={text} onChange={(e) => setText(e.currentTarget.value)} style={{ flex: 1 }} maw={480} required={required} />
          <Button type="submit" variant="default">
            {submit}
          </Button>
        </Group>
      </form>
      {failure && (
        <Text c="red.9" role="alert">
          {failure}
        </Text>
      )}
      {found && found.length === 0 && <Text>{none}</Text>}
      {found && found.length > 0 && (
        <Group gap="xs">
          {found.map((item) => {
            const pressed = chosen !== undefined && keyOf(item) === chosen;
            return (
              <Button key={keyOf(item)} size="xs" variant={pressed ? "filled" : "light"} aria-pressed={chosen !== undefined ? pressed : undefined} onClick={() => onPick(item)}>
                {nameOf(item)}
              </Button>
            );
          })}
        </Group>
      )}
    </Stack>
  );
}
