// One error type for every layer below HTTP. `status` uses HTTP's vocabulary because that is
// the contract users see; the HTTP adapter turns it into the JSON error body.
export class LanscapeError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'LanscapeError';
  }
}

export const notFound = (what: string, id: number | string) =>
  new LanscapeError(404, 'not_found', `${what} ${id} does not exist`);
export const conflict = (message: string, details?: unknown) => new LanscapeError(409, 'conflict', message, details);
export const unprocessable = (message: string, details?: unknown) =>
  new LanscapeError(422, 'unprocessable', message, details);
