import { t } from "elysia";

/** Request body schemas. Unknown fields are rejected everywhere. */

export const LIMITS = {
  nameLength: 200,
  titleLength: 200,
  venueLength: 300,
  maxCapacity: 100_000,
  pageSize: 100,
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

export const Page = t.Object({
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: LIMITS.pageSize })),
  offset: t.Optional(t.Numeric({ minimum: 0 })),
});
