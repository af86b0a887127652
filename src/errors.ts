// The one error registry: every failure a client can cause, with its HTTP status. The HTTP layer maps
// ApiError to Solve360's {status: failed, errors: {field: message}} envelope in one place (http/errors.ts).

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    /** field → message, as Solve360 reports them */
    readonly errors: Record<string, string>,
  ) {
    super(
      Object.entries(errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
    );
  }
}

const make =
  (statusCode: number, code: string) =>
  (field: string, message: string): ApiError =>
    new ApiError(statusCode, code, { [field]: message });

export const Errors = {
  /** 400: the body or a parameter is malformed or of the wrong type */
  badRequest: make(400, 'HL_BAD_REQUEST'),
  /** 400 with several fields at once */
  invalid: (errors: Record<string, string>) => new ApiError(400, 'HL_INVALID', errors),
  unauthorized: () =>
    new ApiError(401, 'HL_UNAUTHORIZED', { authentication: 'Valid e-mail and API token required (HTTP Basic)' }),
  forbidden: (message: string) => new ApiError(403, 'HL_FORBIDDEN', { permission: message }),
  notFound: make(404, 'HL_NOT_FOUND'),
  methodNotAllowed: (method: string) =>
    new ApiError(405, 'HL_METHOD_NOT_ALLOWED', { method: `${method} is not allowed here` }),
  conflict: make(409, 'HL_CONFLICT'),
  tooLarge: (limit: number) =>
    new ApiError(413, 'HL_TOO_LARGE', { request: `Request body is larger than the limit of ${limit} bytes` }),
  /** 503: the database cannot be reached for now (StorageUnavailable); answered with Retry-After */
  unavailable: () => new ApiError(503, 'HL_UNAVAILABLE', { server: 'The database is unavailable; try again shortly' }),
  /** 503: the database connection was lost as the change committed (StorageUnavailable.outcomeUnknown) */
  outcomeUnknown: () =>
    new ApiError(503, 'HL_OUTCOME_UNKNOWN', {
      server:
        'The connection to the database was lost as this change was committed: it may or may not have been saved, so check before sending it again',
    }),
  unsupportedMediaType: (type: string) =>
    new ApiError(415, 'HL_UNSUPPORTED_MEDIA_TYPE', {
      request: `Content-Type ${type} is not accepted (use XML, JSON or form data)`,
    }),
  /** 429: the account's API quota (HOOKLINE_API_QUOTA) is used up for now; answered with Retry-After */
  quota: (requests: number, window: string, retryAfterS: number) =>
    new ApiError(429, 'HL_QUOTA', {
      quota: `The account's API quota of ${requests} requests per ${window} is used up; try again in ${retryAfterS} s`,
    }),
  /** 415: a body in a charset the WHATWG Encoding Standard does not know */
  unsupportedCharset: (charset: string) =>
    new ApiError(415, 'HL_UNSUPPORTED_MEDIA_TYPE', {
      request: `The charset ${charset} is not one Hookline reads (send UTF-8)`,
    }),
};
