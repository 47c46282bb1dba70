/** An answer of the admin API that was not a success: its status and the contract's error. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The admin API over HTTP, with the admin token. */
export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (error) {
      throw new AdminApiError(0, 'unreachable', `Offload at ${this.baseUrl} did not answer: ${(error as Error).cause ?? (error as Error).message}`);
    }
    const text = await response.text();
    const answer = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      throw new AdminApiError(response.status, answer?.error?.code ?? 'error', `${method} ${path}: ${response.status} ${answer?.error?.code ?? ''} ${answer?.error?.message ?? text}`.trim());
    }
    return answer as T;
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown) {
    return this.call<T>('POST', path, body ?? {});
  }
}
