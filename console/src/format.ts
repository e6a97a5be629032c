// Numbers, money and dates as the reader's language writes them.

/** A money amount in minor units (`amountMinor`) of `currency`, written for `locale`. */
export function money(amountMinor: bigint | number, currency: string, locale: string): string {
  if (!currency) return String(amountMinor);
  const format = new Intl.NumberFormat(locale, { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(Number(amountMinor) / 10 ** digits);
}

/** A count, with the locale's grouping. */
export function count(n: bigint | number, locale: string): string {
  return new Intl.NumberFormat(locale).format(n);
}

/** A share in basis points as a percentage. */
export function share(bps: number, locale: string): string {
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(bps / 10000);
}

/** A moment, date and time, in the reader's time zone. */
export function dateTime(date: Date | undefined, locale: string, timeZone?: string): string {
  if (!date) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(date);
}

/** A day. */
export function day(date: Date | undefined, locale: string, timeZone?: string): string {
  if (!date) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone }).format(date);
}

/** A calendar day written `YYYY-MM-DD` (a plan, a validity), the same day wherever it is read. */
export function calendarDay(ymd: string, locale: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ymd)) return ymd;
  return day(new Date(`${ymd}T00:00:00Z`), locale, "UTC");
}

/** An amount typed in major units of `currency` ("12.5" dollars) in its minor units (1250). */
export function toMinor(major: number | string, currency: string): bigint {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return BigInt(Math.round(Number(major) * 10 ** digits));
}
