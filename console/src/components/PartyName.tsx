// A customer named by their id where a list carries only ids (campaign members): their name,
// read once per page view and kept, linking to their 360.
import { useEffect, useState } from "react";
import { customers } from "../api/clients";
import { Link } from "./Link";

const known = new Map<string, Promise<string>>();

function nameOf(id: string): Promise<string> {
  let name = known.get(id);
  if (!name) {
    name = customers.getParty({ id }).then(
      (r) => r.party?.displayName || id,
      () => id,
    );
    known.set(id, name);
  }
  return name;
}

export function PartyName({ id }: { id: string }) {
  const [name, setName] = useState(id);
  useEffect(() => {
    let current = true;
    void nameOf(id).then((n) => current && setName(n));
    return () => {
      current = false;
    };
  }, [id]);
  return <Link to={`/customers/${encodeURIComponent(id)}`}>{name}</Link>;
}
