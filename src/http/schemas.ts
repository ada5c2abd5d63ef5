import { t } from "elysia";
import { queryProblem } from "./validation.ts";

/** Request body and query schemas. Unknown body fields are rejected everywhere. */

export const LIMITS = {
  nameLength: 200,
  titleLength: 200,
  venueLength: 300,
  maxCapacity: 100_000,
  pageSize: 100,
  maxOffset: 1_000_000,
} as const;

const strict = { additionalProperties: false } as const;

export const Email = t.String({ minLength: 3, maxLength: 254, format: "email" });
export const PersonName = t.String({ minLength: 1, maxLength: LIMITS.nameLength });
export const Password = t.String({ minLength: 1, maxLength: 1024 });
export const RoleName = t.Union([t.Literal("student"), t.Literal("organizer"), t.Literal("admin")]);

export const SignupBody = t.Object(
  { email: Email, name: PersonName, password: Password },
  strict,
);

export const LoginBody = t.Object(
  { email: t.String({ minLength: 1, maxLength: 254 }), password: Password },
  strict,
);

export const CreateUserBody = t.Object(
  { email: Email, name: PersonName, password: Password, role: RoleName },
  strict,
);

export const UpdateUserBody = t.Object(
  { role: t.Optional(RoleName), disabled: t.Optional(t.Boolean()) },
  strict,
);

export const CreateEventBody = t.Object(
  {
    title: t.String({ minLength: 1, maxLength: LIMITS.titleLength }),
    venue: t.String({ minLength: 1, maxLength: LIMITS.venueLength }),
    starts_at: t.String({ format: "date-time" }),
    time_zone: t.String({ minLength: 1, maxLength: 64 }),
    capacity: t.Integer({ minimum: 1, maximum: LIMITS.maxCapacity }),
  },
  strict,
);

export const RegisterBody = t.Object(
  { name: t.Optional(PersonName), email: t.Optional(Email) },
  strict,
);

export const CheckinBody = t.Object({ code: t.String({ minLength: 1, maxLength: 512 }) }, strict);

/** Decimal digits only: no sign, exponent, fraction, hex prefix or spaces. */
const DIGITS = /^[0-9]+$/;

/**
 * Builds a query parameter that contains an integer from `min` to `max` and
 * decodes to a number. The decode step throws the 422 itself, naming the
 * parameter.
 *
 * Elysia's t.Integer is not used because it checks the range only after
 * decoding, in an error without the parameter's name. Its string branch also
 * shows `default: 0` in the OpenAPI document.
 */
function queryInteger(name: string, min: number, max: number, description: string) {
  const invalid = () =>
    queryProblem([{ pointer: `/${name}`, detail: `must be an integer from ${min} to ${max}` }]);

  return t
    .Transform(t.String({ description: `${description}: an integer from ${min} to ${max}.` }))
    .Decode((text) => {
      if (!DIGITS.test(text)) throw invalid();
      const value = Number(text);
      if (value < min || value > max) throw invalid();
      return value;
    })
    .Encode((value) => String(value));
}

/** Page size; the routes use LIMITS.pageSize when it is absent. */
export const PageLimit = queryInteger("limit", 1, LIMITS.pageSize, "Page size");

export const Page = t.Object({
  limit: t.Optional(PageLimit),
  offset: t.Optional(queryInteger("offset", 0, LIMITS.maxOffset, "Items to skip")),
});
