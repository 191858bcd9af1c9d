// What the forms' checks share (the traffic test and schedule forms, the VM wizard).

/** An error message per field, for the fields that have one. */
export type FormErrors<F> = Partial<Record<keyof F, string>>;

const INT_RE = /^\d+$/;

/** A whole number as typed, if it is one from `min` to `max` (spaces around it ignored). */
export function intIn(text: string, min: number, max: number): number | undefined {
  const t = text.trim();
  if (!INT_RE.test(t)) {
    return undefined;
  }
  const n = Number(t);
  return n >= min && n <= max ? n : undefined;
}
