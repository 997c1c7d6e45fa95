/** Hash routes: `#/album/<id>` → ["album", "<id>"]. A query after the route (a provider's
 * return adds `?session_id=…`) is not part of it. */
export function parseRoute(hash: string): string[] {
  const [route = ""] = hash.replace(/^#\/?/, "").split("?");
  return route
    .split("/")
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
}

export const href = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join("/")}`;
