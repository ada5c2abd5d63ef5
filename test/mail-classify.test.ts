import { describe, expect, test } from "bun:test";
import { classifySmtpError, cleanText } from "../src/mail/classify.ts";
import { OutboxWriteError, PartialDeliveryError } from "../src/mail/errors.ts";

/** Builds an error shaped like the ones nodemailer rejects with. */
function smtpError(fields: Record<string, unknown>, message = "SMTP failure"): Error {
  return Object.assign(new Error(message), fields);
}

describe("classifySmtpError", () => {
  const replyCases: [number, string, string][] = [
    [421, "ECONNECTION", "transient"],
    [450, "EENVELOPE", "transient"],
    [451, "EENVELOPE", "transient"],
    [452, "EENVELOPE", "transient"],
    [447, "EMESSAGE", "transient"],
    [503, "EENVELOPE", "transient"],
    [550, "EENVELOPE", "permanent"],
    [551, "EENVELOPE", "permanent"],
    [552, "EMESSAGE", "permanent"],
    [553, "EENVELOPE", "permanent"],
    [554, "EMESSAGE", "permanent"],
    [555, "EENVELOPE", "permanent"],
    [530, "EENVELOPE", "config"],
    [535, "EENVELOPE", "config"],
  ];

  for (const [replyCode, code, expected] of replyCases) {
    test(`reply ${replyCode} is ${expected}`, () => {
      const response = `${replyCode} 4.0.0 server said no`;
      const failure = classifySmtpError(smtpError({ code, responseCode: replyCode, response }));
      expect(failure.class).toBe(expected as "transient");
      expect(failure.replyCode).toBe(replyCode);
      expect(failure.code).toBe(code);
      expect(failure.reply).toBe(response);
    });
  }

  const codeCases: [string, string][] = [
    ["ECONNREFUSED", "transient"],
    ["ECONNRESET", "transient"],
    ["ETIMEDOUT", "transient"],
    ["EPIPE", "transient"],
    ["ENOTFOUND", "transient"],
    ["EAI_AGAIN", "transient"],
    ["EDNS", "transient"],
    ["ESOCKET", "transient"],
    ["ECONNECTION", "transient"],
    ["EPROTOCOL", "transient"],
    ["EMESSAGE", "transient"],
    ["EENVELOPE", "permanent"],
    ["EAUTH", "config"],
    ["ENOAUTH", "config"],
    ["ETLS", "config"],
    ["ECONFIG", "config"],
    ["CERT_HAS_EXPIRED", "config"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "config"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "config"],
    ["ESOMETHINGNEW", "transient"],
  ];

  for (const [code, expected] of codeCases) {
    test(`code ${code} is ${expected}`, () => {
      const failure = classifySmtpError(smtpError({ code }));
      expect(failure.class).toBe(expected as "transient");
      expect(failure.code).toBe(code);
      expect(failure.replyCode).toBeUndefined();
    });
  }

  test("reply code decides before error code", () => {
    const failure = classifySmtpError(smtpError({ code: "ECONNECTION", responseCode: 554 }));
    expect(failure.class).toBe("permanent");
  });

  test("auth failure gives operator message", () => {
    const err = smtpError(
      { code: "EAUTH", responseCode: 535, response: "535 5.7.8 bad credentials" },
      "Invalid login: 535 5.7.8 bad credentials",
    );
    const failure = classifySmtpError(err);
    expect(failure.class).toBe("config");
    expect(failure.message).toContain("SMTP_URL");
    expect(failure.replyCode).toBe(535);
  });

  test("temporary auth failure is transient", () => {
    const err = smtpError({ code: "EAUTH", responseCode: 454, response: "454 4.7.0 try later" });
    expect(classifySmtpError(err).class).toBe("transient");
  });

  test("certificate error behind ESOCKET is config", () => {
    const failure = classifySmtpError(
      smtpError({ code: "ESOCKET", originalCode: "SELF_SIGNED_CERT_IN_CHAIN" }),
    );
    expect(failure.class).toBe("config");
    expect(failure.message).toContain("certificate");
  });

  test("abort is transient", () => {
    const controller = new AbortController();
    controller.abort();
    const cause = controller.signal.reason;
    const err = Object.assign(new Error("Message sending aborted", { cause }), {
      name: "AbortError",
      code: "EABORT",
    });
    const failure = classifySmtpError(err);
    expect(failure.class).toBe("transient");
    expect(failure.code).toBe("EABORT");
    expect(failure.message).toBe("Mail send was aborted");
  });

  test("deadline abort says timed out", () => {
    const reason = new DOMException("The operation timed out.", "TimeoutError");
    const err = Object.assign(new Error("Message sending aborted", { cause: reason }), {
      name: "AbortError",
      code: "EABORT",
    });
    expect(classifySmtpError(err).message).toBe("Mail send timed out");
    expect(classifySmtpError(reason).class).toBe("transient");
    expect(classifySmtpError(reason).message).toBe("Mail send timed out");
  });

  test("socket timeout names the phase", () => {
    const err = smtpError({ code: "ETIMEDOUT", timeoutType: "GREETING_TIMEOUT" }, "Timeout");
    const failure = classifySmtpError(err);
    expect(failure.class).toBe("transient");
    expect(failure.message).toBe("SMTP server timed out (GREETING_TIMEOUT)");
  });

  test("partial delivery is permanent", () => {
    const err = new PartialDeliveryError(["a@example.test"], ["b@example.test"], "250 OK");
    const failure = classifySmtpError(err);
    expect(failure.class).toBe("permanent");
    expect(failure.code).toBe("EPARTIAL");
  });

  test("outbox permission error is config", () => {
    const cause = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    const failure = classifySmtpError(new OutboxWriteError("Writing failed", { cause }));
    expect(failure.class).toBe("config");
    expect(failure.code).toBe("EACCES");
    expect(failure.message).toContain("DATA_DIR");
  });

  test("outbox disk full is transient", () => {
    const cause = Object.assign(new Error("ENOSPC: no space left"), { code: "ENOSPC" });
    expect(classifySmtpError(new OutboxWriteError("Writing failed", { cause })).class).toBe(
      "transient",
    );
  });

  test("Retry-After hint is kept", () => {
    const err = smtpError({ code: "EENVELOPE", responseCode: 451, retryAfterMs: 90_000.4 });
    expect(classifySmtpError(err).retryAfterMs).toBe(90_001);
    const invalid = smtpError({ code: "EENVELOPE", responseCode: 451, retryAfterMs: -5 });
    expect(classifySmtpError(invalid).retryAfterMs).toBeUndefined();
  });

  test("non-error values are transient", () => {
    for (const value of [undefined, null, "boom", 42, {}]) {
      const failure = classifySmtpError(value);
      expect(failure.class).toBe("transient");
      expect(failure.message.length).toBeGreaterThan(0);
    }
  });

  test("message hides URL credentials", () => {
    const err = smtpError(
      { code: "ECONNREFUSED" },
      "connect failed for smtp://mailer:hunter2@mail.example.test:587",
    );
    const failure = classifySmtpError(err);
    expect(failure.message).not.toContain("hunter2");
    expect(failure.message).not.toContain("mailer:");
    expect(failure.message).toContain("smtp://***@mail.example.test:587");
  });
});

describe("cleanText", () => {
  test("joins lines and caps length", () => {
    expect(cleanText("451-first\r\n451 second")).toBe("451-first 451 second");
    const long = cleanText("x".repeat(1000));
    expect(long.length).toBe(300);
    expect(long.endsWith("…")).toBe(true);
  });
});
